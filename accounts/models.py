"""What the accounts app keeps: each person's profile, and the admin's view of sign-in locks.

Failed sign-ins are django-axes' (`AccessAttempt`, in the database so every web process counts
the same ones); accounts/lockouts.py turns them into locks.
"""

from __future__ import annotations

from axes.models import AccessAttempt
from django.db import models


class SignInLockout(AccessAttempt):
    """Failed sign-ins still counting towards a lock, as support reads and lifts them in the
    admin (accounts/admin.py). One row per username, address and browser."""

    class Meta:
        proxy = True
        verbose_name = "sign-in lockout"


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
