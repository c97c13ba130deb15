"""Celery adapters for onboarding and master data: ids in, one service call, the next step
queued with a countdown. State lives on the company; a failure is recorded there in plain words
by the service, so a task only decides whether to try again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task

from codat import CodatError
from codat.backoff import Backoff
from companies.invitations import invitation_mail_send
from companies.models import Company
from companies.onboarding import (
    company_codat_create,
    company_configuration_push,
    company_link_check,
    company_link_wait_expired,
)
from companies.refresh import (
    PollOutcome,
    company_refresh_due,
    company_refresh_poll,
    company_refresh_pull,
    company_refresh_start,
)
from gateway.call_slots import CallSlotsBusy, codat_call_slot

logger = logging.getLogger(__name__)

MAX_RETRIES = 4
# The customer may take days to click the link: poll quickly at first, then every 10 minutes,
# and stop after about three days (the onboarding page offers "Check again" after that).
LINK_CHECK_MAX_ATTEMPTS = 450
LINK_CHECK_MAX_COUNTDOWN = 600
REFRESH_POLL_MAX_ATTEMPTS = 120
# The waits between tries: a transient Codat failure, a link not made yet, a refresh not done.
CODAT_RETRY = Backoff(first=5, cap=300)
LINK_CHECKS = Backoff(first=2, factor=1.5, cap=LINK_CHECK_MAX_COUNTDOWN)
REFRESH_POLLS = Backoff(first=2, factor=1.5, cap=30)

_TASK_OPTIONS: dict[str, Any] = {"bind": True, "acks_late": True, "ignore_result": True}


def _company(company_id: int) -> Company | None:
    return Company.objects.filter(pk=company_id).first()


def _later(task: Task) -> bool:
    """Whether a follow-up may be scheduled. An eager run (unit tests) checks once and stops:
    countdowns mean nothing there, and tests drive the next steps themselves."""
    return not task.request.is_eager


def _run(task: Task, company_id: int, step: Callable[[], Any]) -> Any:
    """Run one service call in one of the company's Codat call slots; retry Codat's transient
    failures a bounded number of times. Other failures are already on the company for the page,
    so they end the task quietly. With every slot taken, the task is queued again."""
    try:
        with codat_call_slot(company_id, holder=f"{task.name}:{task.request.id}"):
            return step()
    except CallSlotsBusy as busy:
        if _later(task):
            task.apply_async(
                tuple(task.request.args or ()),
                dict(task.request.kwargs or {}),
                countdown=busy.retry_in,
            )
        return None
    except CodatError as error:
        transient = getattr(error, "transient", False)
        if transient and _later(task) and task.request.retries < MAX_RETRIES:
            raise task.retry(countdown=CODAT_RETRY.delay(task.request.retries)) from error
        return None


@shared_task(name="companies.onboard_create", **_TASK_OPTIONS)
def onboard_create(self: Task, company_id: int) -> None:
    company = _company(company_id)
    if company is None:
        return
    if _run(self, company_id, lambda: company_codat_create(company=company)) is not None and _later(
        self
    ):
        link_check.apply_async((company_id, 0), countdown=2)


@shared_task(name="companies.link_check", **_TASK_OPTIONS)
def link_check(self: Task, company_id: int, attempt: int = 0) -> None:
    company = _company(company_id)
    if company is None:
        return
    linked = _run(self, company_id, lambda: company_link_check(company=company))
    if linked is not False or not _later(self):
        return
    if attempt + 1 >= LINK_CHECK_MAX_ATTEMPTS:
        company_link_wait_expired(company=company)
        return
    countdown = LINK_CHECKS.delay(attempt)
    link_check.apply_async((company_id, attempt + 1), countdown=countdown)


@shared_task(name="companies.refresh", **_TASK_OPTIONS)
def refresh(self: Task, company_id: int) -> None:
    company = _company(company_id)
    if company is None:
        return
    if _run(self, company_id, lambda: company_refresh_start(company=company)):
        refresh_poll.apply_async((company_id, 0), countdown=1)


@shared_task(name="companies.refresh_poll", **_TASK_OPTIONS)
def refresh_poll(self: Task, company_id: int, attempt: int = 0) -> None:
    company = _company(company_id)
    if company is None:
        return
    outcome = _run(self, company_id, lambda: company_refresh_poll(company=company))
    if outcome == PollOutcome.PULL:
        refresh_pull.delay(company_id)
    elif outcome == PollOutcome.WAIT and _later(self) and attempt + 1 < REFRESH_POLL_MAX_ATTEMPTS:
        refresh_poll.apply_async((company_id, attempt + 1), countdown=REFRESH_POLLS.delay(attempt))


@shared_task(name="companies.refresh_pull", **_TASK_OPTIONS)
def refresh_pull(self: Task, company_id: int) -> None:
    company = _company(company_id)
    if company is None or company.refresh_started_at is None:
        return  # pulled already by an earlier delivery of this task
    _run(self, company_id, lambda: company_refresh_pull(company=company))


@shared_task(name="companies.refresh_all", **_TASK_OPTIONS)
def refresh_all(self: Task) -> None:
    """The daily refresh (beat): one task per company, so one slow ledger delays no other."""
    for company_id in company_refresh_due():
        refresh.delay(company_id)


@shared_task(name="companies.configuration_push", **_TASK_OPTIONS)
def configuration_push(self: Task, company_id: int) -> None:
    company = _company(company_id)
    if company is None:
        return
    _run(self, company_id, lambda: company_configuration_push(company=company))


MAIL_MAX_RETRIES = 5
MAIL_RETRY = Backoff(first=30, cap=3600)


@shared_task(name="companies.invitation_send", **_TASK_OPTIONS)
def invitation_send(self: Task, invitation_id: int, site: str) -> None:
    """E-mail an invitation's link; a mail server that fails is tried again a few times (the
    link is on the settings page meanwhile)."""
    try:
        invitation_mail_send(invitation_id=invitation_id, site=site)
    except OSError as error:  # smtplib's errors are OSErrors, as are refused connections
        if _later(self) and self.request.retries < MAIL_MAX_RETRIES:
            raise self.retry(countdown=MAIL_RETRY.delay(self.request.retries)) from error
        logger.warning("Invitation %s could not be e-mailed: %s", invitation_id, error)


BY_NAME: dict[str, Task] = {
    "companies.onboard_create": onboard_create,
    "companies.link_check": link_check,
    "companies.refresh": refresh,
    "companies.configuration_push": configuration_push,
}
