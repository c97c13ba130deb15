from typing import Any

from django.core.management.base import BaseCommand

from companies.services import DEMO_USERS, demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo sign-ins (and demo data). Running it twice changes nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        demo_users_ensure()
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in at http://127.0.0.1:8000/ as:"))
        for username, password, is_superuser in DEMO_USERS:
            role = "support (superuser)" if is_superuser else "finance (approver)"
            self.stdout.write(f"  {username} / {password}  — {role}")
