"""The sync health dashboard in a real browser: charts drawn from seeded syncs, a filter that
narrows the figures, a cause that drills down to its transactions, and "Retry failed items"
that queues them again and shows their progress."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from companies.platforms import Platform
from expenses.models import Expense, ExpenseStatus
from tests.factories import SupportFactory
from tests.syncs.dashboard_data import pushable_company, settled_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_HAS_DATA = """(id) => {
  const chart = window.Chart && Chart.getChart(id);
  if (!chart) return false;
  return chart.data.datasets.some((set) => set.data.some((value) => value > 0));
}"""

# A canvas Chart.js drew on has pixels that are not fully transparent.
CANVAS_IS_DRAWN = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
  return false;
}"""


@pytest.fixture
def broker() -> Iterator[Any]:
    """Tasks go to an in-memory broker instead of running in the web thread, as they would
    reach a real broker: the test sees what was queued, and no worker elsewhere gets it."""
    from sfe_portal.celery import app

    saved = (app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"
    app.conf.broker_transport_options = {}
    # Connections are pooled per app; forget those made for the configured broker.
    app._pool = None
    app.amqp._producer_pool = None
    with app.connection_for_write() as connection:
        yield connection
    app.conf.task_always_eager, app.conf.broker_url, app.conf.broker_transport_options = saved
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def seeded():
    now = timezone.now()
    xero = pushable_company(name="Xero Co", platform=Platform.XERO)
    qbo = pushable_company(name="QBO Co", platform=Platform.QUICKBOOKS_ONLINE)
    settled_sync(xero, at=now - timedelta(days=1), completed=3)
    failed = settled_sync(
        qbo,
        at=now - timedelta(days=2),
        completed=1,
        failures=["Account 400 is archived", "Account 7310 is archived", "Period lock date"],
    )
    return {"failed": failed}


def _sign_in(page: Any) -> None:
    staff = SupportFactory()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Companies").wait_for()


def _tile(page: Any, kpi: str) -> Any:
    return page.locator(f'[data-kpi="{kpi}"] .tile-value')


def test_charts_filters_cause_drill_down_and_retry_with_progress(page, seeded, broker):
    _sign_in(page)
    page.get_by_role("link", name="Sync health").click()

    # The charts are drawn from the seeded syncs.
    page.wait_for_function(CHART_HAS_DATA, arg="chart-syncs")
    page.wait_for_function(CHART_HAS_DATA, arg="chart-expenses")
    assert page.evaluate(CANVAS_IS_DRAWN, "chart-syncs")
    assert page.evaluate(CANVAS_IS_DRAWN, "chart-expenses")
    assert (
        page.evaluate(
            "Chart.getChart('chart-expenses').data.datasets[0].data.reduce((a, b) => a + b)"
        )
        == 4
    )
    assert _tile(page, "syncs").inner_text() == "2"
    assert _tile(page, "failed-transactions").inner_text() == "3"
    assert "figures computed at" in page.locator("#computed-at").inner_text()

    # A filter narrows every figure, the charts included, without a full reload.
    page.get_by_label("Platform").select_option(Platform.XERO)
    page.wait_for_function(
        "() => document.querySelector('[data-kpi=\"syncs\"] .tile-value').innerText === '1'"
    )
    assert _tile(page, "failed-transactions").inner_text() == "0"
    page.wait_for_function(
        "() => { const chart = Chart.getChart('chart-syncs');"
        " return !!chart && chart.data.datasets[1].data.every((v) => v === 0); }"
    )
    assert page.locator("#health tbody tr").count() == 1
    assert "platform=gbol" in page.url

    page.get_by_label("Platform").select_option("")
    page.wait_for_function(
        "() => document.querySelector('[data-kpi=\"syncs\"] .tile-value').innerText === '2'"
    )

    # The cause groups the two archived accounts and drills down to their transactions.
    cause = page.locator("#causes tbody tr").first
    assert cause.locator("td").nth(1).inner_text() == "2"
    cause.get_by_role("link", name="Account <n> is archived").click()
    page.get_by_role("heading", name="Account <n> is archived").wait_for()
    rows = page.locator("#cause-transactions tbody tr")
    assert rows.count() == 2
    assert sorted(rows.nth(i).locator("td").nth(3).inner_text() for i in range(2)) == [
        "Account 400 is archived",
        "Account 7310 is archived",
    ]

    # Retry: both are valid now, so both are queued for a push, and the page follows them.
    page.get_by_role("button", name="Retry failed items").click()
    panel = page.locator("#retry-progress")
    panel.get_by_text("2 sent again").wait_for()
    assert "Waiting for a worker: 2" in panel.inner_text()
    # The in-memory broker is the process's: other work of the same live server (a task queued
    # after an earlier test's commit) may stand in the queue too. The retry's push must be there.
    queue = broker.SimpleQueue("portal")
    tasks = []
    while "syncs.push_company" not in tasks:
        queued = queue.get(timeout=5)
        tasks.append(queued.headers["task"])
        queued.ack()
    assert tasks.count("syncs.push_company") == 1

    # As the worker moves the expenses on, the panel (polling) shows it.
    archived = [e.pk for e in seeded["failed"].failed[:2]]
    Expense.objects.filter(pk__in=archived).update(status=ExpenseStatus.SYNCING)
    panel_says = "(text) => document.querySelector('#retry-progress').innerText.includes(text)"
    page.wait_for_function(panel_says, arg="Pushing or in sync: 2")
    Expense.objects.filter(pk__in=archived).update(status=ExpenseStatus.SYNCED)
    page.wait_for_function(panel_says, arg="Synced: 2")
    assert "nothing in flight" in panel.inner_text()
