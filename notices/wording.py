"""The words of a notice: which company, what failed in plain words, how many, and the links
to the sync and the cause, absolute (`PORTAL_BASE_URL`), as e-mail and chat show them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode

from companies.models import Company
from notices.models import SUPPORT_KINDS, NoticeEvent, NoticeKind
from notices.selectors import CauseCount, StillFailing

# Causes named one by one in a message; the rest are counted together.
TOP_CAUSES = 5
# Syncs linked one by one; more are reached through the company's list of syncs.
TOP_SYNCS = 3
SUBJECT_MAX = 250


class Audience(StrEnum):
    MEMBERS = "members"  # the company's members who hear of every failure
    SUPPORT = "support"  # support staff: disconnections and stalled pushes only
    WEBHOOK = "webhook"  # the deployment's chat channel: everything


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


def absolute(path: str, query: dict[str, str] | None = None) -> str:
    url = settings.PORTAL_BASE_URL.rstrip("/") + path
    return f"{url}?{urlencode(query)}" if query is not None else url


def _counted(n: int, thing: str, things: str = "") -> str:
    return f"{n:,} {thing}" if n == 1 else f"{n:,} {things or thing + 's'}"


def _sync_link(company: Company, sync_id: int) -> str:
    return absolute(reverse("sync-detail", args=[company.pk, sync_id]))


def _syncs_line(company: Company, sync_ids: Sequence[int]) -> str:
    if not sync_ids:
        return ""
    if len(sync_ids) == 1:
        return f"See the sync: {_sync_link(company, sync_ids[0])}"
    if len(sync_ids) <= TOP_SYNCS:
        return "See the syncs: " + " ; ".join(_sync_link(company, pk) for pk in sync_ids)
    return f"See the syncs: {absolute(reverse('sync-list', args=[company.pk]))}"


def cause_link(company: Company, cause: str) -> str:
    """The page of the company's expenses failing now with this cause."""
    return absolute(reverse("company-failing", args=[company.pk]), {"cause": cause})


def _settings_link(company: Company, anchor: str = "") -> str:
    return absolute(reverse("company-settings", args=[company.pk])) + anchor


def _by_count(counts: dict[tuple[str, str], int]) -> list[CauseCount]:
    return [
        CauseCount(cause=cause, words=words, n=n)
        for (cause, words), n in sorted(counts.items(), key=lambda item: (-item[1], item[0][1]))
    ]


def _summary(causes: Sequence[CauseCount]) -> str:
    named = "; ".join(f"{c.n:,} × {c.words}" for c in causes[:TOP_CAUSES])
    rest = causes[TOP_CAUSES:]
    if rest:
        named += f"; {sum(c.n for c in rest):,} for {_counted(len(rest), 'other cause')}"
    return named


def _cause_lines(company: Company, causes: Sequence[CauseCount]) -> list[str]:
    lines = ["The causes:" if len(causes) > 1 else "The cause:"]
    lines += [f"- {c.n:,} × {c.words}: {cause_link(company, c.cause)}" for c in causes[:TOP_CAUSES]]
    return lines


@dataclass(frozen=True)
class _Part:
    headline: str  # for the subject, after the company's name
    text: str


def _sync_failures(company: Company, events: Sequence[NoticeEvent]) -> _Part:
    total = sum(int(e.details.get("failed", 0)) for e in events)
    sync_ids = sorted({e.sync_id for e in events if e.sync_id})
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        for cause, words, n in event.details.get("causes", []):
            counts[(cause, words)] = counts.get((cause, words), 0) + int(n)
    causes = _by_count(counts)
    headline = f"{_counted(total, 'expense')} failed to sync to {company.platform_label}"
    if len(sync_ids) > 1:
        headline += f" in {len(sync_ids)} syncs"
    lines = [f"{company.name}: {headline} — {_summary(causes)}.", _syncs_line(company, sync_ids)]
    lines += _cause_lines(company, causes)
    return _Part(headline, "\n".join(line for line in lines if line))


def _disconnections(company: Company, events: Sequence[NoticeEvent]) -> _Part:
    reasons = list(dict.fromkeys(str(e.details.get("reason") or "") for e in events))
    reason = "; ".join(r for r in reasons if r) or "the accounting connection stopped working"
    headline = f"disconnected from {company.platform_label}"
    text = (
        f"{company.name} was disconnected from {company.platform_label}: {reason}. Nothing is "
        "pushed until the customer links it again; the link to send them is on the company's "
        f"settings page: {_settings_link(company)}"
    )
    return _Part(headline, text)


def _stalls(company: Company, events: Sequence[NoticeEvent]) -> _Part:
    pushes = "a push" if len(events) == 1 else f"{len(events)} pushes"
    reason = str(events[-1].details.get("reason") or "Codat kept failing")
    sync_ids = [e.sync_id for e in events if e.sync_id]
    text = (
        f"{company.name}: {pushes} to {company.platform_label} stalled — {reason}. Nothing is "
        "lost: the portal keeps trying and finishes the push once Codat answers.\n"
        + _syncs_line(company, sync_ids)
    )
    return _Part(f"{pushes} stalled", text.strip())


def _receipts(company: Company, events: Sequence[NoticeEvent]) -> _Part:
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        key = (str(event.details.get("cause", "")), str(event.details.get("words", "")))
        counts[key] = counts.get(key, 0) + 1
    receipts = _counted(len(events), "receipt")
    sync_ids = sorted({e.sync_id for e in events if e.sync_id})
    text = (
        f"{company.name}: {receipts} could not be attached in {company.platform_label} — "
        f"{_summary(_by_count(counts))}. Their expenses are in the ledger without them; support "
        "can send a receipt again from the admin once the cause is fixed.\n"
        + _syncs_line(company, sync_ids)
    )
    return _Part(f"{receipts} not attached", text.strip())


_PARTS = (
    (NoticeKind.DISCONNECTED, _disconnections),
    (NoticeKind.SYNC_FAILED, _sync_failures),
    (NoticeKind.PUSH_STALLED, _stalls),
    (NoticeKind.RECEIPT_GAVE_UP, _receipts),
)


def _subject(company: Company, headlines: Iterable[str]) -> str:
    subject = f"{company.name}: " + "; ".join(headlines)
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1] + "…"


def events_message(
    *, company: Company, events: Sequence[NoticeEvent], audience: Audience
) -> Message | None:
    """One message of the company's events for `audience`; None when none is theirs."""
    if audience == Audience.SUPPORT:
        events = [e for e in events if e.kind in SUPPORT_KINDS]
    parts = []
    for kind, part in _PARTS:
        of_kind = [e for e in events if e.kind == kind]
        if of_kind:
            parts.append(part(company, of_kind))
    if not parts:
        return None
    text = "\n\n".join(p.text for p in parts)
    if audience == Audience.MEMBERS:
        text += (
            f"\n\n—\nYou hear of every failure of {company.name} as it happens. For a daily "
            "digest instead, or nothing, choose on the company's settings page: "
            f"{_settings_link(company, '#notices')}"
        )
    elif audience == Audience.SUPPORT:
        text += "\n\n—\nSupport staff hear of disconnections and stalled pushes at every company."
    return Message(subject=_subject(company, (p.headline for p in parts)), text=text)


def digest_message(*, company: Company, failing: StillFailing, day: date) -> Message | None:
    """The company's daily digest of what is still failing; None when nothing is."""
    if not failing.anything:
        return None
    headlines, texts = [], []
    if failing.disconnected_since:
        since = failing.disconnected_since
        headlines.append("disconnected")
        texts.append(
            f"Disconnected from {company.platform_label} since {since.day} {since:%b %Y}: "
            "nothing is pushed until the customer links it again (the link is on the settings "
            f"page: {_settings_link(company)})."
        )
    if failing.causes:
        total = sum(c.n for c in failing.causes)
        headlines.append(f"{_counted(total, 'expense')} failed")
        lines = [
            f"{_counted(total, 'expense')} failed to sync and {'is' if total == 1 else 'are'} "
            f"not sent again yet — {_summary(failing.causes)}.",
            *_cause_lines(company, failing.causes),
        ]
        texts.append("\n".join(lines))
    if failing.receipts_refused:
        n = sum(c.n for c in failing.receipts_refused)
        headlines.append(f"{_counted(n, 'receipt')} not attached")
        texts.append(
            f"{_counted(n, 'receipt')} could not be attached in {company.platform_label} — "
            f"{_summary(failing.receipts_refused)}. "
            f"See the syncs: {absolute(reverse('sync-list', args=[company.pk]))}"
        )
    if failing.stalled_syncs:
        k = len(failing.stalled_syncs)
        pushes = _counted(k, "push", "pushes")
        headlines.append(f"{pushes} stalled")
        texts.append(
            f"{pushes} {'has' if k == 1 else 'have'} not reached Codat for over an hour; the "
            f"portal keeps trying.\n{_syncs_line(company, failing.stalled_syncs)}"
        )
    text = f"{company.name}, still failing on {day.day} {day:%b %Y}:\n\n" + "\n\n".join(texts)
    text += (
        f"\n\n—\nYou get this digest because you chose it for {company.name}; change it on the "
        f"company's settings page: {_settings_link(company, '#notices')}"
    )
    return Message(subject=_subject(company, headlines), text=text)
