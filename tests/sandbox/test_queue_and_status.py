"""The per-company queue: FIFO, one sync at a time, processed after the configured delay, and the
status endpoints while it waits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from sandbox.engine import process_due_syncs, process_next_sync
from sandbox.models import SandboxLedgerRecord, SandboxSettings, SandboxSync
from tests.sandbox.conftest import Api, link_company, payment, push


def test_syncs_wait_for_the_configured_delay(api: Api) -> None:
    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=5_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    sync = SandboxSync.objects.get(pk=sync_id)

    assert process_due_syncs(now=sync.created + timedelta(seconds=4)) == 0
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()
    assert (status["syncStatusCode"], status["syncStatus"]) == (1000, "NotStarted")
    pending = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions")
    assert [t["status"] for t in pending.json()["results"]] == ["Pending"]

    assert process_due_syncs(now=sync.created + timedelta(seconds=5)) == 1
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()
    assert status["syncStatusCode"] == 2000


def test_a_status_read_processes_what_is_due_without_a_worker(api: Api) -> None:
    linked = link_company(api, "akxx")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    SandboxSync.objects.filter(pk=sync_id).update(due_at=timezone.now() - timedelta(seconds=1))

    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()

    assert status["syncStatusCode"] == 2000


def test_syncs_of_a_company_run_first_in_first_out(api: Api) -> None:
    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=1_000)
    tx_id = str(uuid.uuid4())
    first = push(api, linked, [payment(linked, tx_id)])
    second = push(api, linked, [payment(linked, tx_id, merchantName="Second")])
    # Even when the later sync is due first, it waits for the earlier one.
    SandboxSync.objects.filter(pk=second).update(due_at=timezone.now() - timedelta(hours=1))

    assert process_due_syncs(now=timezone.now()) == 0
    later = timezone.now() + timedelta(seconds=2)
    ran = process_next_sync(company_id=uuid.UUID(linked.company_id), now=later)
    assert ran is not None
    assert str(ran.id) == first
    assert process_next_sync(company_id=uuid.UUID(linked.company_id), now=later) is not None

    codes = {
        str(s.id): s.status_code for s in SandboxSync.objects.filter(company_id=linked.company_id)
    }
    # The second sync met the first one's Completed transaction: duplicate protection.
    assert codes == {first: 2000, second: 5080}
    assert SandboxLedgerRecord.objects.get(transaction_id=tx_id).merchant_name == "Trainline"


def test_one_company_waiting_does_not_hold_up_another(api: Api) -> None:
    slow = link_company(api, "gbol")
    fast = link_company(api, "qhyg")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    slow_sync = push(api, slow, [payment(slow, str(uuid.uuid4()))])
    fast_sync = push(api, fast, [payment(fast, str(uuid.uuid4()))])
    SandboxSync.objects.filter(pk=fast_sync).update(due_at=timezone.now())

    assert process_due_syncs(now=timezone.now()) == 1
    assert SandboxSync.objects.get(pk=slow_sync).state == "queued"
    assert SandboxSync.objects.get(pk=fast_sync).state == "finished"


def test_a_sync_queued_for_more_than_ten_minutes_reads_1010(api: Api) -> None:
    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=3_600_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    SandboxSync.objects.filter(pk=sync_id).update(created=timezone.now() - timedelta(minutes=11))

    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()

    assert status["syncStatusCode"] == 1010


def test_latest_last_successful_and_list(api: Api) -> None:
    linked = link_company(api, "gbol")
    base = f"/companies/{linked.company_id}/sync/expenses/syncs"
    assert api.get(f"{base}/latest/status").status_code == 404
    assert api.get(f"{base}/lastSuccessful/status").status_code == 404
    assert api.get(f"{base}/list/status").json() == []

    good = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    bad_item = payment(linked, str(uuid.uuid4()))
    bad_item["lines"][0]["accountRef"] = {"id": "0"}
    bad = push(api, linked, [bad_item])

    assert api.get(f"{base}/latest/status").json()["syncId"] == bad
    assert api.get(f"{base}/lastSuccessful/status").json()["syncId"] == good
    assert [s["syncId"] for s in api.get(f"{base}/list/status").json()] == [good, bad]
    assert api.get(f"{base}/{uuid.uuid4()}/status").status_code == 404


def test_transaction_reads_are_paged_and_404_outside_the_sync(api: Api) -> None:
    linked = link_company(api, "gbol")
    ids = [str(uuid.uuid4()) for _ in range(3)]
    sync_id = push(api, linked, [payment(linked, i) for i in ids])
    base = f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions"

    page = api.get(f"{base}?page=2&pageSize=2").json()
    assert page["totalResults"] == 3
    assert [t["transactionId"] for t in page["results"]] == ids[2:]
    assert page["results"][0]["integrationType"] == "expenses"
    one = api.get(f"{base}/{ids[1]}").json()
    assert [t["transactionId"] for t in one] == [ids[1]]
    assert api.get(f"{base}/{uuid.uuid4()}").status_code == 404


def test_a_sync_with_nothing_to_push_is_complete_2040(api: Api) -> None:
    linked = link_company(api, "trji")
    response = api.post(f"/companies/{linked.company_id}/sync/expenses/syncs", {"datasetIds": None})
    assert response.status_code == 202
    sync_id = response.json()["syncId"]

    process_due_syncs(now=timezone.now() + timedelta(seconds=1))
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()

    assert (status["syncStatusCode"], status["syncStatus"], status["dataPushed"]) == (
        2040,
        "Complete",
        False,
    )
    assert (
        api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/lastSuccessful/status").json()[
            "syncId"
        ]
        == sync_id
    )


def test_a_sync_the_engine_cannot_process_ends_5000_and_frees_the_queue(api: Api) -> None:
    from sandbox.models import SandboxDataset

    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=1_000)
    broken = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    after = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    # Damage the stored dataset behind the first sync so that the engine trips over it.
    dataset_id = SandboxSync.objects.get(pk=broken).dataset_ids[0]
    SandboxDataset.objects.filter(pk=dataset_id).update(items=[{"id": str(uuid.uuid4())}])

    assert process_due_syncs(now=timezone.now() + timedelta(seconds=2)) == 2

    first = SandboxSync.objects.get(pk=broken)
    assert (first.status_code, first.data_pushed) == (5000, False)
    assert first.exception_message.startswith("KeyError")
    assert [(t.status, t.message) for t in first.transactions.all()] == [
        ("ValidationError", "There is a problem with our server. Please try again later.")
    ]
    assert SandboxSync.objects.get(pk=after).status_code == 2000
    assert SandboxLedgerRecord.objects.count() == 1


def test_a_claimed_sync_reads_started_until_it_is_written(api: Api) -> None:
    from sandbox.engine import claim_next_sync, run_claimed_sync

    linked = link_company(api, "akxx")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    sync_id = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    later = timezone.now() + timedelta(minutes=1)

    claimed = claim_next_sync(company_id=uuid.UUID(linked.company_id), now=later)
    assert claimed is not None
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()
    assert (status["syncStatusCode"], status["syncStatus"]) == (1000, "Started")
    pending = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/transactions")
    assert [t["status"] for t in pending.json()["results"]] == ["Pending"]

    assert run_claimed_sync(sync=claimed, now=later) is not None
    status = api.get(f"/companies/{linked.company_id}/sync/expenses/syncs/{sync_id}/status").json()
    assert status["syncStatusCode"] == 2000


def test_a_running_sync_holds_the_companys_queue(api: Api) -> None:
    from sandbox.engine import claim_next_sync

    linked = link_company(api, "gbol")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    first = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    second = push(api, linked, [payment(linked, str(uuid.uuid4()))])
    later = timezone.now() + timedelta(minutes=2)
    assert claim_next_sync(company_id=uuid.UUID(linked.company_id), now=later) is not None

    assert process_due_syncs(now=later + timedelta(minutes=1)) == 0
    assert SandboxSync.objects.get(pk=first).state == "running"
    assert SandboxSync.objects.get(pk=second).state == "queued"


def test_a_dead_workers_sync_is_taken_over_and_written_once(api: Api) -> None:
    from sandbox.engine import STALE_CLAIM, claim_next_sync

    linked = link_company(api, "qhyg")
    SandboxSettings.objects.filter(pk=1).update(sync_delay_ms=60_000)
    tx_id = str(uuid.uuid4())
    sync_id = push(api, linked, [payment(linked, tx_id)])
    later = timezone.now() + timedelta(minutes=2)
    # A worker claims the sync and dies before writing anything.
    assert claim_next_sync(company_id=uuid.UUID(linked.company_id), now=later) is not None

    assert process_due_syncs(now=later + STALE_CLAIM) == 1

    assert SandboxSync.objects.get(pk=sync_id).status_code == 2000
    assert list(SandboxLedgerRecord.objects.values_list("transaction_id", flat=True)) == [tx_id]
