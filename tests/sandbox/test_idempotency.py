"""`Idempotency-Key` as Codat documents it: the first answer replayed for 90 minutes, 409 while
the first request is in flight, 422 for another request under the same key, 429 never kept and
5xx kept; keys per company; a PUT ignores the header. And the "lost answer" fault: the write
happens, the client sees a timeout, and a retry with the same key learns the syncId."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.utils import timezone

from sandbox import idempotency
from sandbox.api import runtime
from sandbox.models import SandboxIdempotencyKey, SandboxLedgerRecord, SandboxSync
from tests.sandbox.conftest import AUTH, Api, finish, link_company, payment
from tests.sandbox.expenses_spec import response_problems
from tests.sandbox.newer import expense, path, transfer


def _key() -> dict[str, str]:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The idempotency clock, moved by the test: `clock[0] += timedelta(...)`."""
    now = [timezone.now()]
    monkeypatch.setattr(idempotency.clock, "now", lambda: now[0])
    return now


def test_the_same_key_and_body_replays_the_first_answer(api: Api, clock: list[Any]) -> None:
    linked = link_company(api, "gbol")
    items = [expense(linked, str(uuid.uuid4()))]
    key = _key()

    first = api.post(path(linked, "expense-transactions"), items, **key)
    clock[0] += timedelta(minutes=89)
    again = api.post(path(linked, "expense-transactions"), items, **key)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert SandboxSync.objects.count() == 1
    status, _ = finish(api, linked, first.json()["syncId"])
    assert status["syncStatusCode"] == 2000
    assert SandboxLedgerRecord.objects.count() == 1


def test_after_90_minutes_the_key_is_forgotten(api: Api, clock: list[Any]) -> None:
    linked = link_company(api, "gbol")
    items = [expense(linked, str(uuid.uuid4()))]
    key = _key()

    first = api.post(path(linked, "expense-transactions"), items, **key)
    finish(api, linked, first.json()["syncId"])
    clock[0] += timedelta(minutes=91)
    later = api.post(path(linked, "expense-transactions"), items, **key)
    status, _ = finish(api, linked, later.json()["syncId"])

    # A new sync, which the transaction id's duplicate protection stops: nothing written twice.
    assert later.json()["syncId"] != first.json()["syncId"]
    assert status["syncStatusCode"] == 5080
    assert SandboxLedgerRecord.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422(api: Api) -> None:
    linked = link_company(api, "gbol")
    key = _key()
    api.post(path(linked, "expense-transactions"), [expense(linked, str(uuid.uuid4()))], **key)

    other = api.post(
        path(linked, "expense-transactions"), [expense(linked, str(uuid.uuid4()))], **key
    )
    elsewhere = api.post(
        path(linked, "reimbursable-expense-transactions"), [{"id": str(uuid.uuid4())}], **key
    )

    assert (other.status_code, elsewhere.status_code) == (422, 422)
    assert "already used with a different request" in other.json()["error"]
    assert SandboxSync.objects.count() == 1
    assert response_problems("POST", path(linked, "expense-transactions"), 422, other.json()) == []


def test_keys_are_per_company(api: Api) -> None:
    first, second = link_company(api, "gbol"), link_company(api, "qhyg")
    key = _key()

    one = api.post(path(first, "expense-transactions"), [expense(first, str(uuid.uuid4()))], **key)
    two = api.post(
        path(second, "expense-transactions"), [expense(second, str(uuid.uuid4()))], **key
    )

    assert (one.status_code, two.status_code) == (200, 200)
    assert one.json()["syncId"] != two.json()["syncId"]


def test_a_key_must_be_a_guid(api: Api) -> None:
    linked = link_company(api, "gbol")

    response = api.post(
        path(linked, "expense-transactions"),
        [expense(linked, str(uuid.uuid4()))],
        HTTP_IDEMPOTENCY_KEY="batch-1",
    )

    assert response.status_code == 400
    assert "must be a GUID" in response.json()["error"]


def test_a_5xx_is_kept_and_replayed_and_a_429_is_not(api: Api) -> None:
    linked = link_company(api, "gbol")
    items = [expense(linked, str(uuid.uuid4()))]
    failed_key, limited_key = _key(), _key()

    api.put("/_sandbox/faults", {"error_rate": 1.0, "error_status": 503})
    failed = api.post(path(linked, "expense-transactions"), items, **failed_key)
    api.call("DELETE", "/_sandbox/faults")
    replayed = api.post(path(linked, "expense-transactions"), items, **failed_key)

    api.put("/_sandbox/faults", {"rate_limit_every": 1})
    limited = api.post(path(linked, "expense-transactions"), items, **limited_key)
    api.call("DELETE", "/_sandbox/faults")
    retried = api.post(path(linked, "expense-transactions"), items, **limited_key)

    assert (failed.status_code, replayed.status_code) == (503, 503)
    assert replayed.json()["correlationId"] == failed.json()["correlationId"]
    assert (limited.status_code, retried.status_code) == (429, 200)
    assert SandboxSync.objects.count() == 1


def test_a_timeout_on_the_way_in_keeps_nothing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "sleep", lambda seconds: None)
    linked = link_company(api, "gbol")
    items = [expense(linked, str(uuid.uuid4()))]
    key = _key()

    api.put("/_sandbox/faults", {"timeout_rate": 1.0})
    timed_out = api.post(path(linked, "expense-transactions"), items, **key)
    api.call("DELETE", "/_sandbox/faults")
    retried = api.post(path(linked, "expense-transactions"), items, **key)

    assert (timed_out.status_code, retried.status_code) == (504, 200)
    assert SandboxSync.objects.count() == 1


def test_a_lost_answer_writes_and_the_retry_with_the_key_learns_the_sync(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalls: list[float] = []
    monkeypatch.setattr(runtime, "sleep", stalls.append)
    linked = link_company(api, "qhyg")
    items = [expense(linked, str(uuid.uuid4()))]
    key = _key()

    api.put("/_sandbox/faults", {"lost_answer_rate": 1.0, "timeout_stall_ms": 1500})
    lost = api.post(path(linked, "expense-transactions"), items, **key)
    api.call("DELETE", "/_sandbox/faults")
    retried = api.post(path(linked, "expense-transactions"), items, **key)

    assert lost.status_code == 504
    assert stalls == [1.5]
    assert retried.status_code == 200
    sync = SandboxSync.objects.get()
    assert retried.json()["syncId"] == str(sync.id)
    status, _ = finish(api, linked, str(sync.id))
    assert status["syncStatusCode"] == 2000


def test_a_lost_answer_without_a_key_leaves_a_resend_to_duplicate_protection(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "sleep", lambda seconds: None)
    linked = link_company(api, "gbol")
    items = [expense(linked, str(uuid.uuid4()))]

    api.put("/_sandbox/faults", {"lost_answer_rate": 1.0})
    assert api.post(path(linked, "expense-transactions"), items).status_code == 504
    api.call("DELETE", "/_sandbox/faults")
    resent = api.post(path(linked, "expense-transactions"), items)
    status, _ = finish(api, linked, resent.json()["syncId"])

    assert status["syncStatusCode"] == 5080
    assert SandboxLedgerRecord.objects.count() == 1


def test_a_put_ignores_the_header_as_codat_documents_keys_for_post_and_patch(
    api: Api,
) -> None:
    linked = link_company(api, "qhyg")
    tx_id = str(uuid.uuid4())
    key = _key()

    first = api.put(path(linked, f"transfer-transactions/{tx_id}"), transfer(linked), **key)
    finish(api, linked, first.json()["syncId"])
    second = api.put(path(linked, f"transfer-transactions/{tx_id}"), transfer(linked), **key)

    assert second.json()["syncId"] != first.json()["syncId"]
    assert not SandboxIdempotencyKey.objects.exists()


def test_v1_posts_honour_the_key_too(api: Api) -> None:
    linked = link_company(api, "gbol")
    dataset = api.post(
        f"/companies/{linked.company_id}/sync/expenses/data/expense-transactions",
        {"items": [payment(linked, str(uuid.uuid4()))]},
    ).json()["datasetId"]
    key = _key()

    first = api.post(
        f"/companies/{linked.company_id}/sync/expenses/syncs", {"datasetIds": [dataset]}, **key
    )
    again = api.post(
        f"/companies/{linked.company_id}/sync/expenses/syncs", {"datasetIds": [dataset]}, **key
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()


@pytest.fixture
def _short_lived_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)


@pytest.mark.usefixtures("_short_lived_connections")
def test_the_same_key_while_the_first_request_is_in_flight_is_a_409(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, transactional_db: Any
) -> None:
    """The first request holds the key while it runs (here: stalled in the latency fault); a
    second one with the same key and body is refused with 409, and once the first has answered
    the same request gets its answer."""
    api = Api(Client())
    linked = link_company(api, "gbol")
    url = live_server.url + "/codat-sandbox" + path(linked, "expense-transactions")
    items = [expense(linked, str(uuid.uuid4()))]
    headers = {"Authorization": AUTH, "Idempotency-Key": str(uuid.uuid4())}
    entered, release = threading.Event(), threading.Event()

    def stall(seconds: float) -> None:
        entered.set()
        release.wait(10)

    monkeypatch.setattr(runtime, "sleep", stall)
    api.put("/_sandbox/faults", {"latency_ms": 1})
    answers: dict[str, requests.Response] = {}
    first = threading.Thread(
        target=lambda: answers.update(first=requests.post(url, json=items, headers=headers))
    )
    first.start()
    assert entered.wait(10)
    monkeypatch.setattr(runtime, "sleep", lambda seconds: None)
    conflict = requests.post(url, json=items, headers=headers, timeout=10)
    release.set()
    first.join(10)
    after = requests.post(url, json=items, headers=headers, timeout=10)

    assert conflict.status_code == 409
    assert "still in progress" in conflict.json()["error"]
    assert answers["first"].status_code == 200
    assert after.json() == answers["first"].json()
    assert SandboxSync.objects.count() == 1


def test_an_upload_retried_with_its_key_attaches_the_file_once(api: Api) -> None:
    linked = link_company(api, "gbol")
    tx_id = str(uuid.uuid4())
    sync_id = api.post(path(linked, "expense-transactions"), [expense(linked, tx_id)]).json()[
        "syncId"
    ]
    finish(api, linked, sync_id)
    url = "/codat-sandbox" + path(linked, f"syncs/{sync_id}/transactions/{tx_id}/attachments")
    key = _key()

    def upload(content: bytes) -> Any:
        return api.client.post(
            url,
            {"file": SimpleUploadedFile("receipt.pdf", content, "application/pdf")},
            HTTP_AUTHORIZATION=AUTH,
            **key,
        )

    first, again, other = upload(b"%PDF-1.4 a"), upload(b"%PDF-1.4 a"), upload(b"%PDF-1.4 b")

    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 422)
    assert again.json()["id"] == first.json()["id"]
    assert SandboxLedgerRecord.objects.get(transaction_id=tx_id).attachment_count == 1
