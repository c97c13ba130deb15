"""Sending a batch whose sending writes to the ledger (a generation with one sync per batch, such
as Codat's newer Expenses API) under its `Idempotency-Key`, so its expenses are written once
whatever answer is lost on the way.

The claim writes the key with the batch. The moment the batch is first sent under a key is
committed before that call (`key_first_sent_at`): Codat answers every request with the key as it
answered the first, for 90 minutes from it.

- A timeout, a broken connection, a 429 (never kept under a key) or a 409 (the first request with
  the key still running) leaves the batch pending under the same key: the failure propagates,
  and the batch is sent again later with that key, which cannot write twice.
- After an answered 5xx (Codat keeps it under the key, so a resend would only be answered the
  same), a 422 (the key was used with another body: a bug of ours), or once the key is too old to
  be sent again, whether an earlier send wrote is unknown. The batch's sync is looked for among
  the company's recent syncs by the batch's transaction ids (`ExpensesApi.find_lost_submission`)
  and adopted if Codat holds one; otherwise the key is replaced and the batch waits for the next
  turn under the new one. A batch is never sent again under a key whose answer may have written.

A transfer is a PUT by its transaction id (`codat.expenses_api.sent_under_key` is False): Codat
keeps no answer under a key for it, so a PUT is never simply sent again. Its key names the
attempt, first sent at `key_first_sent_at`. Once an attempt's answer is lost (a timeout, a
5xx, a worker that died after the call), its sync is looked for by the transaction id; found,
it is adopted. Not found, the PUT is sent again, under a new key, only once the attempt is older
than `PUT_IN_FLIGHT`, beyond which Codat has long listed any sync the PUT started (a PUT
turned away with a 429 or 503, as initiate-sync's `TURNED_AWAY`, wrote nothing). Codat's
uniqueness of transaction ids is the last line: a transfer already written is refused on a
create-only platform (Xero) and written with the same values again where a PUT updates it
(QuickBooks Online).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from codat import ExpensesApi
from codat.expenses_api import sent_under_key
from syncs.initiate import (
    ADOPTION_MARGIN,
    INITIATE_IN_FLIGHT,
    TURNED_AWAY,
    InitiationInFlight,
    batch_record_started,
)
from syncs.models import PushBatch, Sync

logger = logging.getLogger(__name__)

# Codat keeps a key's first answer this long.
KEY_WINDOW = timedelta(minutes=90)
# A key is sent again only this long after its first send, so that the resend, the client's own
# retries included, reaches Codat well within the key's window.
KEY_REUSE_LIMIT = KEY_WINDOW - timedelta(minutes=10)
# A PUT whose answer was lost is sent again only this long after it was sent: longer than the
# call itself can take, so a sync it started is listed by then.
PUT_IN_FLIGHT = INITIATE_IN_FLIGHT


class SendInFlight(InitiationInFlight):
    """A PUT of the batch was sent moments ago and its answer lost, and Codat lists no sync of
    it yet: look again shortly before sending it again."""


def batch_key_ready(api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]]) -> bool:
    """Whether `batch` may be sent under its key now. A key never sent is marked first sent
    (committed before the call); a key past `KEY_REUSE_LIMIT` is settled first
    (`batch_key_settle`), and the batch is not sent this turn."""
    now = timezone.now()
    if batch.key_first_sent_at is None:
        marked = PushBatch.objects.filter(
            pk=batch.pk, idempotency_key=batch.idempotency_key, key_first_sent_at__isnull=True
        ).update(key_first_sent_at=now)
        if marked:
            batch.key_first_sent_at = now
            return True
        # Another worker sent it, or replaced its key, meanwhile: go on from what it did.
        batch.refresh_from_db(fields=["idempotency_key", "key_first_sent_at"])
        if batch.key_first_sent_at is None:
            return False
    if not sent_under_key(batch.endpoint):
        return _put_again(api, batch, items, now=now)
    if now - batch.key_first_sent_at < KEY_REUSE_LIMIT:
        return True
    batch_key_settle(api, batch, items, why=f"its key was first sent at {batch.key_first_sent_at}")
    return False


def _put_again(
    api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]], *, now: datetime
) -> bool:
    """Whether a PUT already sent under the batch's key, whose answer never came back, may be
    sent again now, under a new key: only when Codat holds no sync of it and the attempt is
    older than `PUT_IN_FLIGHT` (`SendInFlight` before). The sync found is adopted instead."""
    assert batch.key_first_sent_at is not None
    why = f"its PUT sent at {batch.key_first_sent_at} was never answered"
    if batch_lost_adopt(api, batch, items, why=why):
        return False
    if now - batch.key_first_sent_at < PUT_IN_FLIGHT:
        raise SendInFlight(batch.sync_id)
    return _key_replace(batch, why=why, sent_at=now)


def batch_put_turned_away(batch: PushBatch, status: int | None) -> None:
    """A PUT Codat turned away before doing anything (rate limited, offline: `TURNED_AWAY`)
    wrote nothing: the next send need not look for it first."""
    if status in TURNED_AWAY and not sent_under_key(batch.endpoint):
        PushBatch.objects.filter(pk=batch.pk, idempotency_key=batch.idempotency_key).update(
            key_first_sent_at=None
        )


def batch_key_settle(
    api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]], *, why: str
) -> bool:
    """After a send under the batch's key whose outcome is unknown (`why`): adopt the sync
    Codat started for the batch, if it holds one, else replace the key. True when adopted."""
    if batch_lost_adopt(api, batch, items, why=why):
        return True
    _key_replace(batch, why=why)
    return False


def batch_lost_adopt(
    api: ExpensesApi, batch: PushBatch, items: list[dict[str, Any]], *, why: str
) -> bool:
    """After a send of the batch whose outcome is unknown (`why`): adopt the sync Codat
    started for it, if it holds one. True when adopted."""
    assert batch.key_first_sent_at is not None  # marked before any send under the key
    since = batch.key_first_sent_at - ADOPTION_MARGIN
    found = api.find_lost_submission(
        str(batch.company.codat_company_id),
        [item["id"] for item in items],
        since=since,
        known_sync_ids=_recorded_sync_ids(batch.company_id, since),
    )
    if found is not None and found.sync_id is not None:
        logger.info(
            "Adopted sync %s for batch %s: %s",
            found.sync_id,
            batch.pk,
            why,
            extra={"company_id": batch.company_id, "sync_id": batch.sync_id},
        )
        batch_record_started(batch, found.sync_id)
        return True
    return False


def _key_replace(batch: PushBatch, *, why: str, sent_at: datetime | None = None) -> bool:
    """A new key for the batch, never sent yet (or, with `sent_at`, sent at that moment by the
    caller, which sends it now); False, and nothing changes, when another worker replaced the
    key first."""
    key = uuid.uuid4()
    replaced = PushBatch.objects.filter(pk=batch.pk, idempotency_key=batch.idempotency_key).update(
        idempotency_key=key, key_first_sent_at=sent_at
    )
    if replaced:
        logger.warning(
            "Batch %s gets a new idempotency key (%s was last): %s; Codat holds no sync of it",
            batch.pk,
            batch.idempotency_key,
            why,
            extra={"company_id": batch.company_id, "sync_id": batch.sync_id},
        )
        batch.idempotency_key, batch.key_first_sent_at = key, sent_at
    return bool(replaced)


def _recorded_sync_ids(company_id: int, since: datetime) -> list[str]:
    """The company's syncs already recorded that Codat may have started since `since` (a sync
    known to have started before cannot be the batch's)."""
    recorded = Sync.objects.filter(company_id=company_id, codat_sync_id__isnull=False).filter(
        Q(codat_sync_utc__isnull=True) | Q(codat_sync_utc__gte=since)
    )
    return [str(sync_id) for sync_id in recorded.values_list("codat_sync_id", flat=True)]
