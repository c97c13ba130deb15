"""The workspace queue at 200,000 expenses, side by side with Django admin's change list, and
the inline-coding POST.

One company is onboarded against the sandbox (served by gunicorn), then 200,000 expenses are
COPYed in with a seeded mix of statuses. Each page is requested through Django's test Client as
a logged-in approver, so the time is the view's full server time (middleware, queries, template).
Figures: `queue_page_ms_p50` (median over the To categorize tab and a text-filtered view),
`queue_page_queries` (the most queries either page took), `admin_changelist_ms_p50`,
`categorize_ms_p50` and `queue_rows`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench._runtime import benchmark_database, median, record, timed_ms

ROWS = int(__import__("os").environ.get("BENCH_QUEUE_ROWS", "200000"))
SEED = 9
WARMUP = 3
REPEAT = 15
STATUSES = [
    ("uncategorized", 0.35),
    ("categorized", 0.10),
    ("approved", 0.05),
    ("synced", 0.45),
    ("failed", 0.02),
    ("excluded", 0.03),
]
FIGURES = (
    "queue_page_ms_p50",
    "queue_page_queries",
    "admin_changelist_ms_p50",
    "categorize_ms_p50",
    "queue_rows",
)


def _get(client: Any, url: str, **headers: str) -> Any:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return response


def measure(company: Any, user: Any) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bench._data import payment_coding
    from expenses.models import Expense

    client = Client()
    client.force_login(user)
    queue = reverse("expense-queue", args=[company.pk])
    pages = {
        "todo": f"{queue}?tab=todo",
        "filtered": f"{queue}?tab=todo&q=trainline",
    }
    figures: dict[str, float] = {}
    times: list[float] = []
    queries = 0
    for name, url in pages.items():
        page_times = timed_ms(lambda url=url: _get(client, url), warmup=WARMUP, repeat=REPEAT)  # type: ignore[misc]
        times.extend(page_times)
        with CaptureQueriesContext(connection) as captured:
            _get(client, url)
        queries = max(queries, len(captured))
        figures[f"queue_page_{name}_ms_p50"] = median(page_times)
        print(f"queue {name}: {median(page_times)} ms, {len(captured)} queries")
    figures["queue_page_ms_p50"] = median(times)
    figures["queue_page_queries"] = queries

    staff = get_user_model().objects.create_superuser("bench-admin", "admin@example.com", "x")
    admin_client = Client()
    admin_client.force_login(staff)
    changelist = reverse("admin:expenses_expense_changelist") + "?status__exact=uncategorized"
    admin_times = timed_ms(lambda: _get(admin_client, changelist), warmup=WARMUP, repeat=REPEAT)
    figures["admin_changelist_ms_p50"] = median(admin_times)
    print(f"admin change list: {median(admin_times)} ms")

    coding = payment_coding(company)
    targets = iter(
        Expense.objects.filter(company=company, status="uncategorized").values_list(
            "pk", flat=True
        )[: WARMUP + REPEAT]
    )

    def categorize() -> None:
        expense_id = next(targets)
        url = reverse("expense-code", args=[company.pk, expense_id])
        response = client.post(
            url,
            {"account": coding.account_ids[0], "tax_rate": coding.tax_rate_id},
            headers={"HX-Request": "true"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST {url} answered {response.status_code}")

    code_times = timed_ms(categorize, warmup=WARMUP, repeat=REPEAT)
    figures["categorize_ms_p50"] = median(code_times)
    print(f"categorize: {median(code_times)} ms")
    return figures


def run() -> dict[str, float]:
    with benchmark_database(), tempfile.TemporaryDirectory() as logs:
        from bench._data import insert_expenses
        from bench._stack import onboard_company, running_stack
        from companies.models import Membership, Role
        from tests.factories import UserFactory

        with running_stack(Path(logs)) as stack:
            books = onboard_company(stack, "gbol", "Queue Bench Ltd")
        user = UserFactory(username="bench-approver")
        Membership.objects.create(user=user, company=books.company, role=Role.APPROVER)
        written = insert_expenses(
            company=books.company, statuses=STATUSES, count=ROWS, seed=SEED, approver_id=user.pk
        )
        figures = measure(books.company, user)
    figures["queue_rows"] = written
    record(figures)
    return figures


if __name__ == "__main__":
    run()
