"""Failed sign-ins and the lockouts they cause.

They live in the database, not in a process's memory, so every web process counts the same
failures and honours the same lock.
"""

from __future__ import annotations

from django.db import models


class LockScope(models.TextChoices):
    USERNAME = "username", "Username"
    IP = "ip", "Client IP"


class SignInFailure(models.Model):
    """One refused sign-in: who was tried, from where, when."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "sign-in failure"

    def __str__(self) -> str:
        return f"{self.username} from {self.ip or 'unknown'} at {self.at:%Y-%m-%d %H:%M:%S}"


class SignInLockout(models.Model):
    """A username or a client IP refused sign-in until `until`; kept as the record of it."""

    scope = models.CharField(max_length=10, choices=LockScope.choices)
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField()
    locked_at = models.DateTimeField()
    until = models.DateTimeField(db_index=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-locked_at"]
        verbose_name = "sign-in lockout"
        indexes = [models.Index(fields=["scope", "key", "until"])]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.key} locked until {self.until:%Y-%m-%d %H:%M}"


class Profile(models.Model):
    """What a person sets for themselves: the time zone every date and time is shown in."""

    user = models.OneToOneField(
        "auth.User", on_delete=models.CASCADE, related_name="profile", primary_key=True
    )
    # An IANA name ("Europe/London"); empty means the portal's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "profile"

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone or 'default time zone'})"
