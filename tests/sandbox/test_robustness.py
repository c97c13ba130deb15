"""Whatever a client sends, the sandbox answers with Codat's shapes, never a server error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.errors import ApiError
from sandbox.query import parse_query
from sandbox.validation import validate_dataset
from tests.sandbox.conftest import Api, make_company

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["id", "type", "lines", "netAmount", "accountRef", "items", "currency"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(body=_json)
def test_dataset_validation_never_crashes(body: Any) -> None:
    items, errors = validate_dataset(body)
    assert errors or items
    for error in errors:
        assert set(error) == {"itemId", "message", "validatorName"}


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="ab=!~<>{}|&. 1", max_size=20))
def test_the_query_parser_only_raises_malformed_query(text: str) -> None:
    status = 200
    predicate = None
    try:
        predicate = parse_query(text)
    except ApiError as exc:
        status = exc.status
    assert status in (200, 400)
    if predicate is not None:
        predicate({"a": "1", "b": {"a": True}})


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_json)
def test_dataset_posts_answer_200_or_400(api: Api, body: Any) -> None:
    company_id = make_company(api)
    response = api.post(f"/companies/{company_id}/sync/expenses/data/expense-transactions", body)
    assert response.status_code in (200, 400)
