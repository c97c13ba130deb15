"""Celery adapters for the notices: ids in, one service call, state kept in the models."""

from __future__ import annotations

from celery import Task, shared_task

from notices import clock
from notices.digest import digest_due, digests_start
from notices.models import DispatchState
from notices.sending import dispatch_send, dispatches_sweep


@shared_task(bind=True, name="notices.send_dispatch", acks_late=True, ignore_result=True)
def send_dispatch(self: Task, dispatch_id: int) -> None:
    """Send the dispatch once it is due (queued with its debounce window as countdown)."""
    dispatch = dispatch_send(dispatch_id=dispatch_id)
    if dispatch is None or dispatch.state not in (DispatchState.PENDING, DispatchState.RETRYING):
        return
    # Not due yet (queued early), or to try again later. An eager run (unit tests) does not
    # wait out a countdown: there the sweep sends it once due.
    if not self.request.is_eager:
        wait = (dispatch.due_at - clock.now()).total_seconds()
        send_dispatch.apply_async((dispatch.pk,), countdown=max(1.0, wait))


@shared_task(name="notices.sweep", acks_late=True, ignore_result=True)
def sweep() -> None:
    """Beat, every minute: what is due and was not sent (a task lost, a sender that died), and
    the day's digests if their hour passed without them (beat was down)."""
    for dispatch_id in dispatches_sweep():
        send_dispatch.delay(dispatch_id)
    if digest_due():
        digest()


@shared_task(name="notices.digest", acks_late=True, ignore_result=True)
def digest() -> None:
    """Beat, daily at `NOTICE_DIGEST_HOUR`: each company's digest of what is still failing."""
    for dispatch_id in digests_start():
        send_dispatch.delay(dispatch_id)
