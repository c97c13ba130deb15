"""A company's history of access and configuration, in plain words: who made someone a member
or an approver, removed them, changed the default bank account, supplier or customer, edited
or deleted a rule, created or revoked an ingest key — and when.

Read from the history each of those models keeps (django-simple-history: a row per save or
delete, with the user of the request that made it), newest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model, Q

from companies.models import Company, CompanyConfiguration, Membership, Role
from expenses.models import CategorizationRule, IngestToken

# The most changes the page shows.
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Change:
    at: datetime
    by: str  # who made it: a username, or "the portal" for changes no person made
    what: str  # what changed, in plain words
    area: str  # "Access", "Configuration", "Rules", "Ingest keys"


_ROLE_LABELS = dict(Role.choices)
_CONFIG_FIELDS = {"bank_account": "bank account", "supplier": "supplier", "customer": "customer"}


def _who(record: Any) -> str:
    user = record.history_user
    if user is None:
        return "the portal"
    return f"{user.username} (support)" if user.is_staff else user.username


def _with_previous(records: Iterable[Any]) -> list[tuple[Any, Any]]:
    """Each history row (newest first) with the row before it of the same object: found among
    the rows read, else read (the oldest row read of an object that had older ones)."""
    rows = list(records)
    newer: dict[Any, Any] = {}
    previous_of: dict[int, Any] = {}
    for row in rows:  # newest first: a row is the previous of the newer one seen last
        if row.id in newer:
            previous_of[newer[row.id].history_id] = row
        newer[row.id] = row
    return [
        (
            row,
            previous_of.get(row.history_id)
            or (row.prev_record if row.history_type == "~" else None),
        )
        for row in rows
    ]


def _delta(record: Any, previous: Any) -> list[tuple[str, Any, Any]]:
    if previous is None:
        return []
    return [(c.field, c.old, c.new) for c in record.diff_against(previous).changes]


def _membership_changes(company: Company) -> Iterable[Change]:
    history = (
        Membership.history.filter(company_id=company.pk)
        .select_related("history_user", "user")
        .order_by("-history_date")[:HISTORY_LIMIT]
    )
    for record, previous in _with_previous(history):
        member = record.user.username if record.user else "a deleted user"
        role = _ROLE_LABELS.get(record.role, record.role).lower()
        if record.history_type == "+":
            what = f"Added {member} as {role}"
        elif record.history_type == "-":
            what = f"Removed {member}"
        else:
            roles = [(o, n) for field, o, n in _delta(record, previous) if field == "role"]
            if not roles:
                continue
            old, new = roles[0]
            what = (
                f"Changed {member} from {_ROLE_LABELS.get(old, old).lower()} "
                f"to {_ROLE_LABELS.get(new, new).lower()}"
            )
        yield Change(record.history_date, _who(record), what, "Access")


def _names(model: type[Model], ids: set[Any]) -> dict[Any, str]:
    return {pk: str(obj) for pk, obj in model._default_manager.in_bulk(list(ids)).items()}


def _configuration_changes(company: Company) -> Iterable[Change]:
    records = (
        CompanyConfiguration.history.filter(company_id=company.pk)
        .select_related("history_user")
        .order_by("-history_date")[:HISTORY_LIMIT]
    )
    changes: list[tuple[Any, list[tuple[str, Any, Any]]]] = []
    refs: dict[str, set[Any]] = {name: set() for name in _CONFIG_FIELDS}
    for record, previous in _with_previous(records):
        if record.history_type == "+":
            delta = [(name, None, getattr(record, f"{name}_id")) for name in _CONFIG_FIELDS]
        else:
            delta = [d for d in _delta(record, previous) if d[0] in _CONFIG_FIELDS]
        delta = [d for d in delta if d[1] != d[2]]
        for name, old, new in delta:
            refs[name].update(v for v in (old, new) if v is not None)
        if delta:
            changes.append((record, delta))
    field = CompanyConfiguration._meta.get_field
    named = {
        name: _names(field(name).related_model, ids)  # type: ignore[arg-type]
        for name, ids in refs.items()
        if ids
    }
    for record, delta in changes:
        parts = []
        for name, old, new in delta:
            label, names = _CONFIG_FIELDS[name], named.get(name, {})
            new_name = names.get(new, "a record no longer in the ledger") if new else "none"
            if old is None:
                parts.append(f"default {label} set to {new_name}")
            else:
                old_name = names.get(old, "a record no longer in the ledger")
                parts.append(f"default {label} changed from {old_name} to {new_name}")
        what = "; ".join(parts)
        yield Change(record.history_date, _who(record), what[0].upper() + what[1:], "Configuration")


def _rule_changes(company: Company) -> Iterable[Change]:
    history = (
        CategorizationRule.history.filter(company_id=company.pk)
        .select_related("history_user")
        .order_by("-history_date")[:HISTORY_LIMIT]
    )
    for record, previous in _with_previous(history):
        name = f"the rule for “{record.pattern}”"
        if record.history_type == "+":
            what = f"Created {name}"
        elif record.history_type == "-":
            what = f"Deleted {name}"
        else:
            delta = _delta(record, previous)
            fields = [f for f, _, _ in delta if f != "priority"]
            moved = any(f == "priority" for f, _, _ in delta)
            if fields == ["is_active"]:
                what = f"{'Switched on' if record.is_active else 'Switched off'} {name}"
            elif fields:
                labels = ", ".join(f.replace("_", " ") for f in fields)
                what = f"Edited {name} ({labels})"
            elif moved:
                what = f"Moved {name} to position {record.priority}"
            else:
                continue
        yield Change(record.history_date, _who(record), what, "Rules")


def _token_changes(company: Company) -> Iterable[Change]:
    history = (
        IngestToken.history.filter(Q(company_id=company.pk))
        .select_related("history_user")
        .order_by("-history_date")[:HISTORY_LIMIT]
    )
    for record, previous in _with_previous(history):
        name = f"the ingest key “{record.name}” ({record.prefix}…)"
        if record.history_type == "+":
            what = f"Created {name}"
        elif record.history_type == "-":
            what = f"Deleted {name}"
        else:
            fields = {f for f, _, _ in _delta(record, previous)}
            if "revoked_at" in fields:
                what = f"{'Revoked' if record.revoked_at else 'Restored'} {name}"
            elif fields:
                what = f"Changed {name} ({', '.join(sorted(f.replace('_', ' ') for f in fields))})"
            else:
                continue
        yield Change(record.history_date, _who(record), what, "Ingest keys")


def company_history(*, company: Company) -> list[Change]:
    """The company's changes of access and configuration, newest first (at most
    `HISTORY_LIMIT` of each kind)."""
    changes = [
        *_membership_changes(company),
        *_configuration_changes(company),
        *_rule_changes(company),
        *_token_changes(company),
    ]
    changes.sort(key=lambda change: change.at, reverse=True)
    return changes[:HISTORY_LIMIT]
