"""Every URL of the URLconf, visited by everyone who should be kept out.

The list of URLs is read from `get_resolver()`, so a page added tomorrow is visited tomorrow
without touching this file. Each URL's arguments are real objects of company A. Six visitors:

- anonymous → sent to sign-in, except the explicit public allowlist below;
- an approver of company B using company A's ids → 404 on every company page;
- a viewer of company A → every POST refused (403/405) and nothing in A changes;
- view-only staff (the "Support (read-only)" group) → every POST of the portal refused
  (403/405), and nothing changes in the portal or through the admin;
- support (the "Support" group) → reads every company page;
- a signed-in superuser posting without a CSRF token → 403, except the CSRF-exempt allowlist.

A new public or CSRF-exempt URL fails the allowlist tests until it is added here on purpose.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.two_factor import OPEN_BEFORE_SECOND_FACTOR
from companies.invitations import invitation_key
from companies.models import Company, Invitation, Membership, Role
from expenses.models import CategorizationRule, Expense, ExpenseEvent
from tests.expenses.conftest import make_books
from tests.factories import (
    CompanyFactory,
    ExpenseFactory,
    ExpenseLineFactory,
    MembershipFactory,
    PushBatchFactory,
    ReadOnlySupportFactory,
    ReceiptFactory,
    StaffFactory,
    SupportFactory,
    SyncFactory,
)

pytestmark = pytest.mark.django_db

# URLs anyone may reach without signing in, each for a reason. Matched against the URL name
# (namespace-qualified); a namespace ending in ":" covers all of it.
PUBLIC = {
    "login": "the sign-in page itself",
    "admin:login": "the admin's sign-in page",
    "codat-webhook": "Codat posts webhooks; the Svix signature is the authentication",
    "api-ingest-expenses": "the card platform's API; Bearer ingest key is the authentication",
    "api-openapi": "the ingest API's public document",
    "api-not-found": "the API's JSON 404 for paths under api/ that do not exist",
    "sandbox:": "the Codat emulator (dev only), authenticated by the sandbox API key like Codat",
    "healthz": "the load balancer's liveness probe: says only that the process is up",
    "readyz": "the load balancer's readiness probe: each dependency's state, no data",
    "favicon": "the site's icon, which browsers fetch on any page, the sign-in page too",
    "invitation-accept": "an invitation's link: its signed key is the authentication; it makes "
    "or links only an account of the invited address, never a staff one",
}
# Views that take no CSRF token because no browser session reaches them.
CSRF_EXEMPT = {
    "codat-webhook": "signed by Svix, no cookies",
    "api-ingest-expenses": "Bearer key, no cookies",
    "api-not-found": "answers 404 and changes nothing",
    "sandbox:": "Codat's API surface, API key, no cookies",
}
# Company URLs where any member, a viewer too, writes something of their own, never the
# company's: the viewer's test checks that such a write touches only their own row.
OWN_CHOICES = {
    "company-notices": "a member's own choice of what they hear of the company's failures",
}
# Pages every signed-in user may open whatever their companies (the rest of the non-company
# pages, a staff dashboard for example, must refuse a plain member). Personal settings change
# only the signed-in person's own profile (their time zone), view-only staff's included.
OPEN_TO_ANY_SIGNED_IN = {
    "home": "the list of the companies the person may see",
    "logout": "signing out",
    "login": "the sign-in page, which sends a signed-in person on",
    "admin:login": "the admin's sign-in page, likewise",
    "personal-settings": "the person's own profile",
    "signin-code": "staff's second step; anyone else, or a session that owes no code, is sent on",
    "signin-enrol": "setting up the signed-in staff member's own authenticator app; anyone else "
    "is sent on",
}


@dataclass(frozen=True)
class Route:
    pattern: str  # the full route, prefixes joined
    name: str  # namespace-qualified name, or "" for unnamed patterns
    callback: Callable[..., Any]
    kwargs: tuple[str, ...]
    positional: int = 0  # unnamed regex groups (a model history's version page)

    @property
    def label(self) -> str:
        return self.name or self.pattern

    @property
    def company_scoped(self) -> bool:
        return "company_id" in self.kwargs and not self.is_admin

    @property
    def is_admin(self) -> bool:
        return self.name.startswith("admin:") or self.pattern.startswith("admin/")


def _matches(route: Route, allowlist: dict[str, str] | set[str]) -> bool:
    return any(
        route.name.startswith(key) if key.endswith(":") else route.name == key for key in allowlist
    )


_KWARG = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>")
_POSITIONAL = re.compile(r"\((?!\?)")


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            full = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
            kwargs = tuple(a or b for a, b in _KWARG.findall(full))
            yield Route(full, name, entry.callback, kwargs, len(_POSITIONAL.findall(full)))


ROUTES = list(_walk(get_resolver().url_patterns))
PORTAL_ROUTES = [r for r in ROUTES if not r.name.startswith("sandbox:")]


def _fill(pattern: str, kwargs: dict[str, str]) -> str:
    """The URL of a route pattern (path or regex) with its arguments filled in."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: kwargs[m.group(1)], pattern)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: kwargs[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


@dataclass
class World:
    company: Any
    expense: Expense
    receipt: Any
    rule: CategorizationRule
    viewer: Any
    approver: Any
    outsider: Any
    staff: Any
    sync: Any
    batch: Any
    invitation: Invitation

    def value(self, kwarg: str) -> str:
        values: dict[str, Callable[[], object]] = {
            "company_id": lambda: self.company.pk,
            "expense_id": lambda: self.expense.pk,
            "receipt_id": lambda: self.receipt.pk,
            "rule_id": lambda: self.rule.pk,
            "user_id": lambda: self.approver.pk,
            "sync_id": lambda: self.sync.pk,
            "sync_pk": lambda: self.sync.pk,
            "batch_id": lambda: self.batch.pk,
            "invitation_id": lambda: self.invitation.pk,
            "key": lambda: invitation_key(invitation=self.invitation),
            # The admin refuses before it looks an object up, so any existing id does.
            "object_id": lambda: self.expense.pk,
            "pk": lambda: self.approver.pk,
            "id": lambda: self.approver.pk,
            "content_type_id": lambda: 1,
            "app_label": lambda: "expenses",
            "file_format": lambda: "csv",
            "url": lambda: "no-such-page/",
            "rest": lambda: "v1/no-such-thing",
        }
        if kwarg not in values:
            pytest.fail(
                f"tests/security/test_url_access.py has no value for the URL argument "
                f"'{kwarg}': add one built from company A's objects to World.value()."
            )
        return str(values[kwarg]())

    def url(self, route: Route) -> str:
        kwargs = {k: self.value(k) for k in route.kwargs}
        if route.positional:
            # A model history's version: an object id and a version id (any will do).
            return reverse(route.name, args=[self.approver.pk, 1][: route.positional])
        if route.name:
            return reverse(route.name, kwargs=kwargs)
        return _fill(route.pattern, kwargs)


@pytest.fixture
def world() -> World:
    books = make_books()
    company = books.company
    expense = ExpenseFactory(company=company, merchant_name="Pret")
    ExpenseLineFactory(expense=expense, account=books.travel, tax_rate=books.vat)
    viewer = MembershipFactory(company=company, role=Role.VIEWER).user
    approver = MembershipFactory(company=company, role=Role.APPROVER).user
    other = CompanyFactory(name="Other Ltd")
    outsider = MembershipFactory(company=other, role=Role.APPROVER).user
    return World(
        company=company,
        expense=expense,
        receipt=ReceiptFactory(expense=expense),
        rule=CategorizationRule.objects.create(
            company=company, pattern="Pret", account=books.meals
        ),
        viewer=viewer,
        approver=approver,
        outsider=outsider,
        staff=StaffFactory(is_superuser=True),
        sync=SyncFactory(company=company),
        batch=PushBatchFactory(company=company),
        invitation=Invitation.objects.create(
            company=company,
            email="invited@example.com",
            token="t" * 43,
            expires_at=timezone.now() + timedelta(days=7),
        ),
    )


def _signed_in(user: Any, **client_kwargs: Any) -> Client:
    client = Client(**client_kwargs)
    client.force_login(user)
    return client


def test_the_urlconf_walk_finds_the_portal_pages():
    names = {r.name for r in ROUTES}

    assert {"login", "expense-queue", "expense-detail", "admin:index", "push-start"} <= names
    assert len(PORTAL_ROUTES) > 50


def test_every_public_url_is_on_the_allowlist_and_every_entry_still_exists():
    public = {r.label for r in ROUTES if getattr(r.callback, "login_required", True) is False}

    unlisted = sorted(
        p for p in public if not any(_matches(r, PUBLIC) for r in ROUTES if r.label == p)
    )
    stale = sorted(k for k in PUBLIC if not any(_matches(r, {k}) for r in ROUTES))

    assert unlisted == [], "new public URLs: add them to PUBLIC with a reason, or protect them"
    assert stale == [], f"PUBLIC lists URLs that no longer exist: {stale}"


def test_every_csrf_exempt_url_is_on_the_allowlist():
    exempt = [r for r in ROUTES if getattr(r.callback, "csrf_exempt", False)]

    unlisted = sorted(r.label for r in exempt if not _matches(r, CSRF_EXEMPT))

    assert unlisted == [], "new CSRF-exempt URLs: add them to CSRF_EXEMPT with a reason"


def test_anonymous_visitors_are_sent_to_sign_in(world):
    client = Client()
    problems = []
    for route in PORTAL_ROUTES:
        if _matches(route, PUBLIC):
            continue
        url = world.url(route)
        # The admin sends some of its pages to its own sign-in page, the rest to the portal's.
        sign_in = [reverse(settings.LOGIN_URL)] + (
            [reverse("admin:login")] if route.is_admin else []
        )
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            location = response.get("Location", "")
            if response.status_code != 302 or not any(
                location.startswith(f"{page}?next=") for page in sign_in
            ):
                problems.append(f"{method.upper()} {url} ({route.label}) → {response.status_code}")

    assert problems == []


def test_public_urls_answer_anonymous_visitors_without_a_server_error(world):
    client = Client(raise_request_exception=False)
    problems = []
    for route in ROUTES:
        if not _matches(route, PUBLIC):
            continue
        url = _sample_url(world, route)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {url} → {response.status_code}")

    assert problems == []


def _sample_url(world: World, route: Route) -> str:
    """Sandbox routes take Codat's string ids; any value exercises the route."""
    if not route.name.startswith("sandbox:"):
        return world.url(route)
    kwargs = {k: (str(uuid.uuid4()) if k.endswith("company_id") else "x") for k in route.kwargs}
    return _fill(route.pattern, kwargs)


def test_another_companys_member_gets_404_for_this_companys_ids(world):
    client = _signed_in(world.outsider)
    problems = []
    for route in PORTAL_ROUTES:
        if _matches(route, PUBLIC) or _matches(route, OPEN_TO_ANY_SIGNED_IN):
            continue
        url = world.url(route)
        statuses = {m: getattr(client, m)(url).status_code for m in ("get", "post")}
        if route.is_admin:
            refused = all(s == 302 for s in statuses.values())  # to the admin's sign-in
        elif route.company_scoped:
            # 405 is the method guard answering before any lookup; one method must reach it.
            refused = set(statuses.values()) <= {404, 405} and 404 in statuses.values()
        else:
            refused = set(statuses.values()) <= {403, 404, 405}
        if not refused:
            problems.append(f"{url} ({route.label}) → {statuses}")

    assert problems == []


def _fingerprint(world: World) -> list[Any]:
    company = world.company
    return [
        list(company.expenses.order_by("pk").values_list("pk", "status", "merchant_name", "notes")),
        list(company.rules.order_by("pk").values_list("pk", "is_active", "priority", "pattern")),
        list(company.memberships.order_by("pk").values_list("user_id", "role")),
        list(world.expense.receipts.values_list("pk", flat=True)),
        list(world.expense.lines.values_list("pk", "account_id", "net_amount")),
        company.syncs.count(),
        company.invitations.count(),
        # What a write elsewhere would leave: a company, a member, an event, a history entry.
        Company.objects.count(),
        list(Membership.objects.order_by("pk").values_list("company_id", "user_id", "role")),
        Invitation.objects.count(),
        ExpenseEvent.objects.count(),
        LogEntry.objects.count(),
    ]


def test_a_viewer_is_refused_every_write_and_nothing_changes(world):
    client = _signed_in(world.viewer)
    before = _fingerprint(world)
    problems = []
    for route in PORTAL_ROUTES:
        if not (route.company_scoped or route.is_admin) or _matches(route, PUBLIC):
            continue
        url = world.url(route)
        response = client.post(url, {"action": "remove", "role": "approver", "notes": "x"})
        allowed = {302} if route.is_admin else {403, 405}
        if _matches(route, OWN_CHOICES):
            allowed = {400}  # the viewer's own choice, and this one is not one offered
        if response.status_code not in allowed:
            problems.append(f"POST {url} ({route.label}) → {response.status_code}")

    assert problems == []
    assert _fingerprint(world) == before


def test_a_viewers_own_choice_changes_their_row_only(world):
    client = _signed_in(world.viewer)
    before = _fingerprint(world)
    others = list(Membership.objects.exclude(user=world.viewer).values_list("pk", "notices"))

    for route in PORTAL_ROUTES:
        if _matches(route, OWN_CHOICES):
            assert client.post(world.url(route), {"notices": "every"}).status_code == 302

    assert _fingerprint(world) == before
    assert list(Membership.objects.exclude(user=world.viewer).values_list("pk", "notices")) == (
        others
    )
    assert Membership.objects.get(user=world.viewer).notices == "every"


def test_a_viewer_can_read_but_gets_no_server_error(world):
    client = _signed_in(world.viewer)
    problems = []
    for route in PORTAL_ROUTES:
        if not route.company_scoped or _matches(route, PUBLIC):
            continue
        url = world.url(route)
        status = client.get(url).status_code
        if status not in {200, 403, 405}:
            problems.append(f"GET {url} ({route.label}) → {status}")

    assert problems == []
    assert client.get(reverse("expense-queue", args=[world.company.pk])).status_code == 200


def test_view_only_staff_are_refused_every_write_and_nothing_changes(world):
    """Staff who may only view, as the admin sees them: every POST of the portal is refused,
    and the admin answers its pages without changing anything."""
    staff = ReadOnlySupportFactory()
    client = _signed_in(staff)
    before = _fingerprint(world)
    problems = []
    for route in PORTAL_ROUTES:
        if _matches(route, PUBLIC) or _matches(route, OPEN_TO_ANY_SIGNED_IN):
            continue
        url = world.url(route)
        response = client.post(url, {"action": "remove", "role": "approver", "notes": "x"})
        # The admin answers its own way (the page again, a refusal, its not-found); what
        # matters there is that nothing changes.
        allowed = {200, 302, 403, 404, 405} if route.is_admin else {403, 405}
        if response.status_code not in allowed:
            problems.append(f"POST {url} ({route.label}) → {response.status_code}")
        if route.is_admin and response.status_code == 302:
            client.force_login(staff)  # the admin's sign-out page signs out: sign in again

    assert problems == []
    assert _fingerprint(world) == before


@pytest.mark.parametrize(
    ("persona", "refused"),
    [(SupportFactory, set()), (ReadOnlySupportFactory, {403})],
    ids=["support", "view-only staff"],
)
def test_support_reads_every_company_page(world, persona, refused):
    """Support sees every company: no company page is hidden (404) from it. View-only staff
    are refused only the pages that are writes in themselves (following an onboarding)."""
    client = _signed_in(persona())
    problems = []
    for route in PORTAL_ROUTES:
        if not route.company_scoped:
            continue
        url = world.url(route)
        status = client.get(url).status_code
        if status not in {200, 405} | refused:
            problems.append(f"GET {url} ({route.label}) → {status}")

    assert problems == []
    assert client.get(reverse("dashboard")).status_code == 200


def test_an_unverified_staff_session_reaches_only_the_code_step_where_codes_are_required(
    world, settings
):
    """Production: a superuser past the password but not the code is sent to the code step from
    every page, the admin's and the dashboard's included, and changes nothing."""
    settings.STAFF_TOTP_REQUIRED = True
    client = _signed_in(world.staff)
    before = _fingerprint(world)
    code_step = f"{reverse('signin-code')}?next="
    problems = []
    for route in PORTAL_ROUTES:
        if _matches(route, PUBLIC) or route.name in OPEN_BEFORE_SECOND_FACTOR:
            continue
        url = world.url(route)
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"action": "remove", "notes": "x"})
            if response.status_code != 302 or not response["Location"].startswith(code_step):
                problems.append(f"{method.upper()} {url} ({route.label}) → {response.status_code}")

    assert problems == []
    assert _fingerprint(world) == before


def test_every_post_without_a_csrf_token_is_refused(world):
    client = _signed_in(world.staff, enforce_csrf_checks=True)
    problems = []
    for route in PORTAL_ROUTES:
        if _matches(route, CSRF_EXEMPT):
            continue
        url = world.url(route)
        response = client.post(url, {"action": "remove"})
        if response.status_code != 403 or b"CSRF" not in response.content:
            problems.append(f"POST {url} ({route.label}) → {response.status_code}")

    assert problems == []


def test_staff_open_every_portal_page_without_a_server_error(world):
    client = _signed_in(world.staff)
    client.raise_request_exception = False
    problems = []
    for route in PORTAL_ROUTES:
        url = world.url(route)
        status = client.get(url).status_code
        if status >= 500:
            problems.append(f"GET {url} ({route.label}) → {status}")

    assert problems == []


NUMERIC_KWARGS = {"company_id", "receipt_id", "rule_id", "user_id", "sync_id", "batch_id"}


def test_ids_too_large_for_the_database_are_404_not_server_errors(world):
    """A 20-digit id overflows a 64-bit column; a lookup with it must find nothing, not fail."""
    client = _signed_in(world.staff)
    client.raise_request_exception = False
    problems = []
    checked = 0
    for route in PORTAL_ROUTES:
        numeric = [k for k in route.kwargs if k in NUMERIC_KWARGS]
        if not numeric or route.is_admin:
            continue
        kwargs = {k: ("9" * 20 if k in numeric else world.value(k)) for k in route.kwargs}
        path = _fill(route.pattern, kwargs)
        for method in ("get", "post"):
            status = getattr(client, method)(path).status_code
            checked += 1
            if status >= 500 or status == 200:
                problems.append(f"{method.upper()} {path} ({route.label}) → {status}")

    assert checked > 40
    assert problems == []
