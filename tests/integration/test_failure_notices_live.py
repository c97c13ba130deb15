"""Failure notices with a real worker and the sandbox over HTTP: a push whose expenses Codat
refuses for two causes is told once, when the debounce window ends, by e-mail to the approver
who hears of every failure (not the one who chose nothing, not a viewer, not the digest's
reader) and to the chat webhook, in plain words, with links that open."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from pathlib import Path

import pytest
from django.core import mail

from companies.models import NoticeChoice, Role
from companies.platforms import Platform
from expenses.models import Expense, ExpenseLine, ExpenseStatus
from notices.models import DispatchState, NoticeDispatch
from syncs.tasks import push_company
from tests.factories import MembershipFactory, SupportFactory, UserFactory
from tests.integration.conftest import wait_for
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved
from tests.integration.test_worker_killed import sandbox_env  # noqa: F401 (fixture)
from tests.notices.receiver import webhook_receiver

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    """The messages the worker's file backend wrote (one file per connection)."""
    found = []
    for path in sorted(folder.glob("*.log")) if folder.exists() else []:
        for raw in path.read_bytes().split(SEPARATOR):
            if raw.strip():
                found.append(email.message_from_bytes(raw, policy=email.policy.default))
    return found


def _member(books, name: str, role: Role, notices: str = ""):
    user = UserFactory(username=name)
    MembershipFactory(company=books.company, user=user, role=role, notices=notices)
    return user


def test_a_push_refused_for_two_causes_is_told_once_with_links_that_open(
    sandbox_env,  # noqa: F811
    celery_workers,
    monkeypatch,
    tmp_path,
    live_server,
    client,
):
    folder = tmp_path / "mail"
    books = onboard(Platform.XERO)
    approver = _member(books, "ada", Role.APPROVER)
    others = [
        _member(books, "quinn", Role.APPROVER, NoticeChoice.NONE),
        _member(books, "vic", Role.VIEWER),
        _member(books, "dora", Role.BOOKKEEPER, NoticeChoice.DIGEST),
        SupportFactory(username="sam"),  # a failed sync is the approvers' to fix
    ]
    locked = _approved(books, 3)
    archived = _approved(books, 2)
    # The second group is coded against another expense account, which the accountant then
    # archives; the period before the end of November is locked for all of them.
    other_account = next(
        a
        for a in books.accounts.values()
        if "Payment" in a.valid_transaction_types
        and a.is_usable
        and a.pk != archived[0].lines.get().account_id
    )
    ExpenseLine.objects.filter(expense__in=archived).update(account=other_account)
    company_id = books.company.codat_company_id
    control(
        "POST",
        f"companies/{company_id}/records/chartOfAccounts/{other_account.codat_id}",
        {"status": "Archived"},
    )
    control(
        "POST",
        f"companies/{company_id}/records/company/{company_id}",
        {"ledgerLockDate": "2026-11-30T00:00:00"},
    )
    assert {e.issue_date for e in [*locked, *archived]} == {date(2026, 11, 2)}

    with webhook_receiver() as receiver:
        monkeypatch.setenv("EMAIL_URL", f"filemail:///{folder}")
        monkeypatch.setenv("NOTICE_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("NOTICE_DEBOUNCE_SECONDS", "8")
        monkeypatch.setenv("PORTAL_BASE_URL", live_server.url)
        worker = celery_workers()

        push_company.apply_async((books.company.pk,), queue=worker.queue)
        wait_for(
            lambda: (
                Expense.objects.filter(company=books.company, status=ExpenseStatus.FAILED).count()
                == 5
            ),
            timeout=180,
            what="the push to end with its five expenses failed",
            worker=worker,
        )
        assert _mails(folder) == []  # told only once the window ends
        dispatch = wait_for(
            lambda: NoticeDispatch.objects.filter(state=DispatchState.SENT).first(),
            timeout=120,
            what="the notice to be sent",
            worker=worker,
        )
        posts = list(receiver.posts)

    assert NoticeDispatch.objects.count() == 1
    [message] = _mails(folder)
    assert message["To"] == approver.email
    assert all(user.email not in message["To"] for user in others)
    assert message["Subject"] == "Harbour Coffee Ltd: 5 expenses failed to sync to Xero"
    body = message.get_content()
    assert (
        "Harbour Coffee Ltd: 5 expenses failed to sync to Xero — 3 × The date is in a locked "
        "period; 2 × The account was archived in the accounting software." in body
    )
    [post] = posts
    assert "3 × The date is in a locked period" in post["json"]["text"]
    assert list(dispatch.steps.values_list("state", flat=True)) == ["pending", "sending", "sent"]
    assert mail.outbox == []  # sent by the worker, not by this process

    client.force_login(approver)
    links = re.findall(re.escape(live_server.url) + r"/\S+", body)
    assert len(links) == 4  # the sync, the two causes, the settings
    for link in links:
        assert client.get(link.removeprefix(live_server.url)).status_code == 200, link
