from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.seed import DEMO_USERS, demo_company_states, demo_seed, demo_users_ensure


class Command(BaseCommand):
    help = (
        "Create the demo sign-ins, one company per platform onboarded against the embedded "
        "sandbox on Sync for Expenses v1 and one on Codat's newer Expenses API, and their "
        "expenses. Running it twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--expenses", type=int, default=300, help="expenses per company (default 300)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = demo_users_ensure()
        summary = demo_seed(users=users, expenses_per_company=options["expenses"])
        for name, status in sorted(demo_company_states().items()):
            self.stdout.write(f"  {name}: {status}")
        self.stdout.write(f"  {summary.created_expenses} new demo expenses")
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in at http://127.0.0.1:8000/ as:"))
        for username, password, is_superuser in DEMO_USERS:
            role = "support (superuser)" if is_superuser else "finance (approver)"
            self.stdout.write(f"  {username} / {password}  — {role}")
