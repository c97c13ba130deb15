"""`manage.py expenses_api --company X --to expenses [--dry-run]`: the company found by its portal
id, Codat company id or name; what was done (or would be) printed a line at a time; exit 1 with
what is in flight and the fix when the company cannot move now; clear errors for bad input."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from companies.models import Company, ExpensesApiSwitch, SwitchChannel
from companies.platforms import ApiGeneration
from syncs.management.commands.expenses_api import Command
from syncs.models import Sync, SyncState
from tests.factories import (
    CompanyFactory,
    StaffFactory,
)
from tests.syncs.cutover_data import speaks, v1_company_with_an_adjustment

pytestmark = pytest.mark.django_db

BEFORE_SHUTDOWN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _run(*args: str, clock: Any = lambda: BEFORE_SHUTDOWN) -> str:
    out = io.StringIO()
    call_command(Command(clock=clock), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def books() -> Any:
    return v1_company_with_an_adjustment()


def test_a_dry_run_prints_what_would_happen_and_changes_nothing(books):
    out = _run("--company", str(books.company.pk), "--to", "expenses", "--dry-run")

    assert out.splitlines() == [
        "Harbour Coffee Ltd can move from Sync for Expenses v1 to the newer Expenses API: "
        "nothing of it is in flight.",
        "1 expense would go back to coding, refused by the newer Expenses API's rules:",
        "  1 × Xero does not accept Adjustment in transactions from Codat's Expenses API. "
        "Exclude this expense and record it in the accounting software by hand.",
        "Dry run: nothing was changed.",
    ]
    assert speaks(books.company) == ApiGeneration.V1
    assert not ExpensesApiSwitch.objects.exists()


@pytest.mark.parametrize("by", ["portal id", "Codat company id", "name"])
def test_the_company_is_found_by_its_portal_id_codat_id_or_name(books, by):
    wanted = {
        "portal id": str(books.company.pk),
        "Codat company id": str(books.company.codat_company_id),
        "name": "harbour coffee ltd",
    }[by]

    out = _run("--company", wanted, "--to", "expenses")

    assert out.splitlines()[0] == (
        "Harbour Coffee Ltd moved from Sync for Expenses v1 to the newer Expenses API."
    )
    assert speaks(books.company) == ApiGeneration.EXPENSES
    switch = ExpensesApiSwitch.objects.get()
    assert (switch.via, switch.switched_by, switch.switched_at) == (
        SwitchChannel.COMMAND,
        None,
        BEFORE_SHUTDOWN,
    )
    assert switch.by_label == "manage.py expenses_api"


def test_by_names_the_account_recorded(books):
    anna = StaffFactory(username="anna")

    _run("--company", str(books.company.pk), "--to", "expenses", "--by", "anna")

    assert ExpensesApiSwitch.objects.get().switched_by == anna


def test_a_company_with_something_in_flight_exits_1_saying_what_and_the_fix(books):
    Sync.objects.create(
        company=books.company, state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4()
    )

    with pytest.raises(CommandError) as refused:
        _run("--company", str(books.company.pk), "--to", "expenses")

    assert refused.value.returncode == 1
    assert str(refused.value) == (
        "Not moved: Harbour Coffee Ltd still has work in flight with Codat: 1 sync not finished. "
        "Let it finish first (the worker carries it on), or finish it here with manage.py "
        f"sync_now --company {books.company.pk} --wait; then move the company again."
    )
    assert speaks(books.company) == ApiGeneration.V1


def test_run_from_the_command_line_a_refusal_is_exit_status_1(books, capsys):
    Company.objects.filter(pk=books.company.pk).update(push_requested_at=BEFORE_SHUTDOWN)

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(
            ["manage.py", "expenses_api", "--company", str(books.company.pk), "--to", "expenses"]
        )

    assert exited.value.code == 1
    assert "Not moved: Harbour Coffee Ltd still has work in flight with Codat: a push was " in (
        capsys.readouterr().err
    )


def test_moving_back_to_v1_after_the_shutdown_exits_1(books):
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)

    with pytest.raises(CommandError, match="cannot be moved back to it") as refused:
        _run(
            "--company",
            str(books.company.pk),
            "--to",
            "v1",
            clock=lambda: datetime(2027, 5, 2, tzinfo=UTC),
        )

    assert refused.value.returncode == 1


def test_a_company_already_there_is_a_success_saying_so(books):
    Company.objects.filter(pk=books.company.pk).update(expenses_api=ApiGeneration.EXPENSES)

    out = _run("--company", str(books.company.pk), "--to", "expenses")

    assert out == "Harbour Coffee Ltd already speaks the newer Expenses API: nothing to do.\n"


def test_bad_input_is_refused_naming_the_option_and_the_fix(books):
    CompanyFactory(name="Twin Ltd")
    CompanyFactory(name="twin ltd")

    with pytest.raises(CommandError, match="--company: no company has the portal id"):
        _run("--company", "Nobody Ltd", "--to", "expenses")
    with pytest.raises(CommandError, match=r"--company: 2 companies are called 'Twin Ltd' \("):
        _run("--company", "Twin Ltd", "--to", "expenses")
    with pytest.raises(CommandError, match="--by: no account has the username 'ghost'"):
        _run("--company", str(books.company.pk), "--to", "expenses", "--by", "ghost")
    with pytest.raises(CommandError, match="argument --to: invalid choice: 'v2'"):
        _run("--company", str(books.company.pk), "--to", "v2")
    assert speaks(books.company) == ApiGeneration.V1
