"""The lazy walk over paged lists: every page, in order, fetched only when needed, and finite."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from codat import CodatProtocolError
from codat import client as client_module
from tests.codat.conftest import COMPANY_ID, SYNC_ID, company_url

URL = company_url(f"/sync/expenses/syncs/{SYNC_ID}/transactions")


def page_body(ids: list[int], page: int, page_size: int, total: int | None, has_next: bool) -> dict:
    links: dict[str, dict[str, str]] = {
        "self": {"href": "/t"},
        "current": {"href": f"/t?page={page}"},
    }
    if has_next:
        links["next"] = {"href": f"/t?page={page + 1}"}
    body: dict[str, object] = {
        "results": [{"transactionId": str(i), "status": "Completed"} for i in ids],
        "pageNumber": page,
        "pageSize": page_size,
        "_links": links,
    }
    if total is not None:
        body["totalResults"] = total
    return body


def add_page(http: responses.RequestsMock, page: int, body: dict, page_size: int = 2) -> None:
    http.get(
        URL,
        json=body,
        match=[matchers.query_param_matcher({"page": str(page), "pageSize": str(page_size)})],
    )


def test_the_walk_yields_every_item_of_every_page_in_order(http, client):
    add_page(http, 1, page_body([1, 2], 1, 2, 5, True))
    add_page(http, 2, page_body([3, 4], 2, 2, 5, True))
    add_page(http, 3, page_body([5], 3, 2, 5, False))

    ids = [
        t.transaction_id for t in client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2)
    ]

    assert ids == ["1", "2", "3", "4", "5"]
    assert len(http.calls) == 3


def test_the_walk_is_lazy(http, client):
    add_page(http, 1, page_body([1, 2], 1, 2, 4, True))
    add_page(http, 2, page_body([3, 4], 2, 2, 4, False))

    walk = client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2)
    assert len(http.calls) == 0
    first = next(walk)

    assert first.transaction_id == "1"
    assert len(http.calls) == 1


def test_the_walk_stops_when_there_is_no_next_link(http, client):
    add_page(http, 1, page_body([1, 2], 1, 2, None, False))

    assert len(list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))) == 2
    assert len(http.calls) == 1


def test_the_walk_stops_on_an_empty_page_even_with_a_next_link(http, client):
    add_page(http, 1, page_body([1, 2], 1, 2, None, True))
    add_page(http, 2, page_body([], 2, 2, None, True))

    assert len(list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))) == 2
    assert len(http.calls) == 2


def test_the_walk_stops_on_a_short_page(http, client):
    add_page(http, 1, page_body([1], 1, 2, None, True))

    assert len(list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))) == 1


def test_the_walk_stops_once_total_results_are_read(http, client):
    add_page(http, 1, page_body([1, 2], 1, 2, 2, True))

    assert len(list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))) == 2
    assert len(http.calls) == 1


def test_a_server_ignoring_the_page_parameter_cannot_loop_forever(http, client):
    http.get(URL, json=page_body([1, 2], 1, 2, None, True))

    with pytest.raises(CodatProtocolError, match="page 2"):
        list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))

    assert len(http.calls) == 2


def test_endless_full_pages_end_in_an_error_after_the_page_limit(http, client, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    for page in (1, 2, 3):
        add_page(http, page, page_body([page * 10, page * 10 + 1], page, 2, None, True))

    with pytest.raises(CodatProtocolError, match="after 3 pages"):
        list(client.iter_sync_transactions(COMPANY_ID, SYNC_ID, page_size=2))


def test_a_page_answer_without_results_is_a_protocol_error(http, client):
    http.get(URL, json={"pageNumber": 1, "pageSize": 2, "totalResults": 0, "_links": {}})

    with pytest.raises(CodatProtocolError):
        client.list_sync_transactions(COMPANY_ID, SYNC_ID)


def test_pages_start_at_one(client):
    with pytest.raises(ValueError, match="start at 1"):
        client.list_sync_transactions(COMPANY_ID, SYNC_ID, page=0)
