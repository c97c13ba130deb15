"""Remove a person's authenticator app (a lost or replaced phone)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.two_factor import devices_reset

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Remove the authenticator apps of the given accounts (a lost or replaced phone): a "
        "session verified with one is no longer verified, and the next sign-in sets up a new "
        "app. Usernames are matched exactly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="+", metavar="USERNAME")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()._default_manager
        names = options["usernames"]
        unknown = [name for name in names if not users.filter(username=name).exists()]
        if unknown:
            raise CommandError(
                f"No account with the username {', '.join(unknown)}: give usernames exactly as "
                "the admin lists them under Users. Nothing was changed."
            )
        for name in names:
            removed = devices_reset(users.get(username=name))
            logger.warning("Authenticator reset for %s (%d device(s) removed)", name, removed)
            self.stdout.write(
                f"{name}: removed {removed} authenticator app(s); they set up a new one at their "
                "next sign-in."
            )
