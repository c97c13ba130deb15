"""What every call carries (auth, timeout, User-Agent) and what it records (exchanges)."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import requests
import responses

from codat import CodatClient, CodatNotFoundError, Exchange
from codat.client import DEFAULT_TIMEOUT, EXCHANGE_BODY_LIMIT
from tests.codat.conftest import API_KEY, BASE_URL, COMPANY_ID, SYNC_ID, TRANSACTION_ID, company_url

COMPANY = {"id": COMPANY_ID, "name": "Acme", "redirect": "https://link.codat.io/company/x"}


def test_every_call_sends_basic_auth_with_the_base64_of_the_key_alone(http, client):
    http.get(company_url(), json=COMPANY)

    client.get_company(COMPANY_ID)

    expected = "Basic " + base64.b64encode(API_KEY.encode()).decode()
    assert http.calls[0].request.headers["Authorization"] == expected


def test_a_netrc_entry_for_codat_never_replaces_the_key(http, client, tmp_path, monkeypatch):
    # requests sends a ~/.netrc entry's credentials for a request with no auth of its own.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.codat.io login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    http.get(company_url(), json=COMPANY)

    client.get_company(COMPANY_ID)

    expected = "Basic " + base64.b64encode(API_KEY.encode()).decode()
    assert http.calls[0].request.headers["Authorization"] == expected


def test_user_agent_names_the_product_and_version(http, client):
    http.get(company_url(), json=COMPANY)

    client.get_company(COMPANY_ID)

    assert http.calls[0].request.headers["User-Agent"].startswith("SfE-Portal/0.1.0")


@pytest.mark.parametrize("timeout", [7.5, (2.0, 15.0)])
def test_the_configured_timeout_is_passed_on_every_call(http, make_client, timeout):
    http.get(company_url(), json=COMPANY)
    http.post(company_url("/data/all"), status=204)
    client = make_client(timeout=timeout)

    client.get_company(COMPANY_ID)
    client.refresh_all_data(COMPANY_ID)

    assert [call.request.req_kwargs["timeout"] for call in http.calls] == [timeout, timeout]


def test_a_default_timeout_applies_when_none_is_given(http):
    http.get(company_url(), json=COMPANY)

    CodatClient(BASE_URL, API_KEY).get_company(COMPANY_ID)

    assert http.calls[0].request.req_kwargs["timeout"] == DEFAULT_TIMEOUT


def test_one_session_is_used_for_every_call(http):
    http.get(company_url(), json=COMPANY)
    session = requests.Session()
    sent_through: list[str] = []
    original = session.request

    def spy(method, url, **kwargs):
        sent_through.append(url)
        return original(method, url, **kwargs)

    session.request = spy  # type: ignore[method-assign]
    client = CodatClient(BASE_URL, API_KEY, session=session)

    client.get_company(COMPANY_ID)
    client.get_company(COMPANY_ID)

    assert len(sent_through) == 2


def test_an_exchange_records_the_call_without_any_secret(http, client, exchanges, fake_time):
    http.get(
        company_url("/data/accounts"),
        json={"results": [], "pageNumber": 1, "pageSize": 5, "totalResults": 0, "_links": {}},
    )

    client.list_accounts(COMPANY_ID, page_size=5, query="isBankAccount=true")

    (exchange,) = exchanges
    assert exchange.method == "GET"
    assert exchange.path == f"/companies/{COMPANY_ID}/data/accounts"
    assert exchange.query == "page=1&pageSize=5&query=isBankAccount%3Dtrue"
    assert exchange.status == 200
    assert exchange.error is None
    assert '"results":[]' in exchange.response_body.replace(" ", "")
    token = base64.b64encode(API_KEY.encode()).decode()
    assert API_KEY not in repr(exchange)
    assert token not in repr(exchange)


def test_an_echoed_key_is_redacted_from_the_recorded_bodies(http, client, exchanges):
    token = base64.b64encode(API_KEY.encode()).decode()
    http.get(company_url(), status=404, body=f"no company; you sent Basic {token} ({API_KEY})")

    with pytest.raises(CodatNotFoundError) as raised:
        client.get_company(COMPANY_ID)

    assert token not in repr(exchanges[0])
    assert API_KEY not in repr(exchanges[0])
    assert "[redacted]" in exchanges[0].response_body
    assert raised.value.status == 404


def test_an_exchange_carries_the_duration_from_the_injected_clock(http, fake_time):
    def slow_answer(request):
        fake_time.now += 0.25
        return (200, {}, json.dumps({"id": COMPANY_ID, "name": "Acme"}))

    http.add_callback(responses.GET, company_url(), callback=slow_answer)
    recorded: list[Exchange] = []
    client = CodatClient(BASE_URL, API_KEY, on_exchange=recorded.append, clock=fake_time.clock)

    client.get_company(COMPANY_ID)

    assert recorded[0].duration_ms == 250


def test_bodies_in_exchanges_are_truncated(http, client, exchanges):
    http.post(
        company_url("/sync/expenses/config"),
        json={"bankAccount": {"id": "x" * 10_000}, "supplier": {}, "customer": {}},
    )
    from codat import CompanyConfiguration

    client.save_company_configuration(COMPANY_ID, CompanyConfiguration("y" * 10_000, None, None))

    assert len(exchanges[0].request_body) < EXCHANGE_BODY_LIMIT + 100
    assert len(exchanges[0].response_body) < EXCHANGE_BODY_LIMIT + 100
    assert exchanges[0].response_body.endswith("in all]")


def test_multipart_bodies_are_summarised_not_recorded(http, client, exchanges):
    http.post(
        company_url(f"/sync/expenses/syncs/{SYNC_ID}/transactions/{TRANSACTION_ID}/attachments"),
        json={"id": "1"},
    )

    client.upload_attachment(
        COMPANY_ID,
        SYNC_ID,
        TRANSACTION_ID,
        file=b"\x89PNG" + b"\0" * 1000,
        file_name="r.png",
        content_type="image/png",
    )

    assert exchanges[0].request_body == "multipart: file='r.png' (image/png, 1004 bytes)"


def test_a_failing_exchange_hook_is_logged_and_never_breaks_the_call(http, make_client, caplog):
    http.get(company_url(), json=COMPANY)

    def broken(exchange: Exchange) -> None:
        raise RuntimeError("database is down")

    client = make_client(on_exchange=broken)
    with caplog.at_level(logging.ERROR, logger="codat.client"):
        company = client.get_company(COMPANY_ID)

    assert company.id == COMPANY_ID
    assert "on_exchange hook failed" in caplog.text


def test_the_correlation_id_comes_from_the_body_or_else_a_header(http, client, exchanges):
    http.get(
        company_url(),
        status=404,
        json={"statusCode": 404, "error": "gone", "correlationId": "from-body"},
        headers={"x-correlation-id": "from-header"},
    )
    http.get(
        company_url("/data/info"),
        status=404,
        body="Not Found",
        headers={"X-Correlation-Id": "only-header"},
    )

    with pytest.raises(CodatNotFoundError) as first:
        client.get_company(COMPANY_ID)
    with pytest.raises(CodatNotFoundError) as second:
        client.get_company_info(COMPANY_ID)

    assert first.value.correlation_id == "from-body"
    assert second.value.correlation_id == "only-header"
    assert [e.correlation_id for e in exchanges] == ["from-body", "only-header"]


def test_redirects_are_not_followed_and_become_errors(http, client):
    http.get(company_url(), status=302, headers={"Location": "https://elsewhere.example/"})

    from codat import CodatError

    with pytest.raises(CodatError) as raised:
        client.get_company(COMPANY_ID)

    assert raised.value.status == 302
    assert len(http.calls) == 1


def test_a_client_needs_a_base_url_and_a_key():
    with pytest.raises(ValueError, match="api_key"):
        CodatClient(BASE_URL, "")
    with pytest.raises(ValueError, match="base_url"):
        CodatClient("", API_KEY)
