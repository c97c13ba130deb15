"""Failure messages that differ only in ids, amounts, dates or names are one cause."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncs.causes import CAUSE_MAX_LENGTH, normalise_cause


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "Account 400 is not valid for transaction type Payment",
            "Account 7310 is not valid for transaction type Payment",
        ),
        (
            "Account 8f14e45f-ceea-467f-a0e1-2b3c4d5e6f70 is archived",
            "Account 0b7c2a9e-1d3f-4a5b-8c6d-7e8f9a0b1c2d is archived",
        ),
        (
            "Amount £1,234.50 exceeds the card limit of £1,000.00",
            "Amount £17.99 exceeds the card limit of £5.00",
        ),
        (
            "Currency rate 1.1675 is missing for EUR 250.00",
            "Currency rate 0.8571 is missing for EUR 12.10",
        ),
        ("Supplier 'Acme Ltd' does not exist", 'Supplier "Pret A Manger" does not exist'),
        (
            "Tax rate INPUT2 is archived in Xero (ref TX-0042)",
            "Tax rate INPUT9 is archived in Xero (ref TX-7)",
        ),
        (
            "The date 2026-10-31 is before the period lock date",
            "The date 2026-11-02T10:00:00Z is before the period lock date",
        ),
        ("Duplicate of   transaction 12", "Duplicate of transaction 13"),
    ],
)
def test_messages_differing_only_in_ids_amounts_and_names_are_one_cause(first, second):
    assert normalise_cause(first) == normalise_cause(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Account 400 is archived", "Account 400 does not exist"),
        ("Tax rate INPUT2 is archived", "Account INPUT2 is archived"),
        (
            "Account 400 is not valid for transaction type Payment",
            "Account 400 is not valid for transaction type Refund",
        ),
        ("Supplier 'Acme' does not exist", "Customer 'Acme' does not exist"),
        ("The accounting period is locked", "The connection is not linked"),
    ],
)
def test_different_causes_stay_apart(first, second):
    assert normalise_cause(first) != normalise_cause(second)


def test_the_cause_keeps_the_words_and_names_what_was_taken_out():
    cause = normalise_cause(
        "Account 'Travel' (id 8f14e45f-ceea-467f-a0e1-2b3c4d5e6f70) costs £12.50"
    )

    assert cause == "Account <name> (id <id>) costs <amount>"


def test_an_empty_message_is_a_cause_of_its_own():
    assert normalise_cause("") == "No reason given"
    assert normalise_cause("   ") == "No reason given"


@given(st.text(max_size=2000))
def test_any_message_gives_a_short_stable_cause(message):
    cause = normalise_cause(message)

    assert 0 < len(cause) <= CAUSE_MAX_LENGTH
    assert normalise_cause(message) == cause


@given(st.integers(min_value=0, max_value=10**9), st.uuids())
def test_any_number_or_uuid_in_the_same_sentence_is_the_same_cause(number, uid):
    assert normalise_cause(f"Record {number} of {uid} failed") == normalise_cause(
        "Record 1 of 00000000-0000-0000-0000-000000000000 failed"
    )
