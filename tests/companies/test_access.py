"""Who sees which company: anonymous → sign-in, members their own, support staff all (by
permission, never by the staff flag alone), others 404; roles gate actions with 403."""

import pytest
from django.http import HttpResponse
from django.urls import include, path, reverse
from django.utils import timezone

from companies.models import Company, Role
from companies.permissions import company_member_required
from companies.selectors import company_list_visible, company_visible_with_role, role_allows
from tests.factories import (
    CompanyFactory,
    MembershipFactory,
    ReadOnlySupportFactory,
    StaffFactory,
    SupportFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@company_member_required(Role.BOOKKEEPER)
def _bookkeeper_action(request, company):
    return HttpResponse(f"coded {company.pk}")


@company_member_required(Role.APPROVER)
def _approver_action(request, company):
    return HttpResponse(f"approved {company.pk}")


urlpatterns = [
    path("t/<int:company_id>/code/", _bookkeeper_action, name="t-code"),
    path("t/<int:company_id>/approve/", _approver_action, name="t-approve"),
    path("", include("sfe_portal.urls")),
]


@pytest.mark.parametrize("url_name", ["home", "company-detail"])
def test_anonymous_visitor_is_sent_to_sign_in(client, url_name):
    company = CompanyFactory()
    url = reverse(url_name, args=[company.pk] if url_name != "home" else [])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_sign_in_page_is_public_and_signs_in(client):
    UserFactory(username="ada")

    page = client.get(reverse("login"))
    response = client.post(reverse("login"), {"username": "ada", "password": "pw"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_is_refused_with_a_message(client):
    UserFactory(username="ada")

    response = client.post(reverse("login"), {"username": "ada", "password": "nope"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_sign_out_needs_post(client):
    client.force_login(UserFactory())

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_member_sees_only_their_companies():
    mine, theirs = CompanyFactory(name="Mine Ltd"), CompanyFactory(name="Theirs Ltd")
    membership = MembershipFactory(company=mine)

    visible = list(company_list_visible(user=membership.user))

    assert visible == [mine]
    assert theirs not in visible


def test_support_staff_see_every_company():
    companies = {CompanyFactory(), CompanyFactory()}

    assert set(company_list_visible(user=SupportFactory())) == companies
    assert set(company_list_visible(user=ReadOnlySupportFactory())) == companies


def test_the_staff_flag_alone_sees_no_company_not_even_through_a_membership():
    membership = MembershipFactory(user=StaffFactory())

    assert list(company_list_visible(user=membership.user)) == []
    assert company_visible_with_role(user=membership.user, company_id=membership.company_id) == (
        None,
        None,
    )


def test_inactive_user_sees_nothing():
    membership = MembershipFactory(user=UserFactory(is_active=False))

    assert list(company_list_visible(user=membership.user)) == []


def test_company_list_page_shows_members_companies_only(client):
    membership = MembershipFactory(company=CompanyFactory(name="Mine Ltd"))
    CompanyFactory(name="Theirs Ltd")
    client.force_login(membership.user)

    body = client.get(reverse("home")).content.decode()

    assert "Mine Ltd" in body
    assert "Theirs Ltd" not in body


def test_company_list_search_filters_with_htmx_partial(client):
    user = SupportFactory()
    CompanyFactory(name="Acme Bikes"), CompanyFactory(name="Zeta Foods")
    client.force_login(user)

    response = client.get(reverse("home"), {"q": "acme"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "Acme Bikes" in body
    assert "Zeta Foods" not in body
    assert "<html" not in body  # only the rows partial
    assert response["Vary"] == "HX-Request, Cookie" or "HX-Request" in response["Vary"]


def test_company_list_query_count_does_not_grow_with_companies(
    client, django_assert_max_num_queries
):
    user = SupportFactory()
    client.force_login(user)
    for _ in range(12):
        MembershipFactory(company=CompanyFactory())

    # session + user + the staff account's permissions (its own and its groups') + the count +
    # the page's companies + their connections + one grouped expense count
    with django_assert_max_num_queries(8):
        client.get(reverse("home"))


def _firms(count, prefix="Firm"):
    """`count` companies named in page order, each with a connection and an expense."""
    from tests.factories import ConnectionFactory, ExpenseFactory

    companies = [CompanyFactory(name=f"{prefix} {n:03}") for n in range(count)]
    for company in companies:
        ConnectionFactory(company=company)
        ExpenseFactory(company=company)
    return companies


def _names(body):
    import re

    return re.findall(r'<a href="/companies/\d+/">([^<]+)</a>', body)


def test_company_list_shows_fifty_companies_a_page_with_links_between_pages(client):
    _firms(120)
    client.force_login(SupportFactory())

    first = client.get(reverse("home")).content.decode()
    second = client.get(reverse("home"), {"page": "2"}).content.decode()
    last = client.get(reverse("home"), {"page": "3"}).content.decode()

    assert _names(first) == [f"Firm {n:03}" for n in range(50)]
    assert "Page 1 of 3 · 120 companies" in first
    assert 'href="/?page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    assert _names(second)[0] == "Firm 050"
    assert 'href="/" rel="prev"' in second
    assert 'href="/?page=3" rel="next"' in second
    assert _names(last) == [f"Firm {n:03}" for n in range(100, 120)]
    assert "Page 3 of 3" in last
    assert 'rel="next"' not in last


def test_company_list_page_links_keep_the_search(client):
    _firms(60, prefix="Acme")
    CompanyFactory(name="Zeta Foods")
    client.force_login(SupportFactory())

    first = client.get(reverse("home"), {"q": "acme"}).content.decode()
    second = client.get(reverse("home"), {"q": "acme", "page": "2"}).content.decode()

    assert "Page 1 of 2 · 60 companies" in first
    assert 'href="/?q=acme&amp;page=2" rel="next"' in first
    assert 'href="/?q=acme" rel="prev"' in second
    assert _names(second) == [f"Acme {n:03}" for n in range(50, 60)]
    assert "Zeta Foods" not in first + second


def test_company_list_pages_with_htmx_swap_the_list_and_its_pager(client):
    _firms(55)
    client.force_login(SupportFactory())

    response = client.get(reverse("home"), {"page": "2"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="company-list">')
    assert "Page 2 of 2" in body
    assert 'hx-get="/" hx-target="#company-list"' in body


def test_company_list_answers_a_page_out_of_range_with_the_last_and_junk_with_the_first(client):
    _firms(55)
    client.force_login(SupportFactory())

    beyond = client.get(reverse("home"), {"page": "99"}).content.decode()
    junk = client.get(reverse("home"), {"page": "x'"}).content.decode()

    assert "Page 2 of 2" in beyond
    assert "Page 1 of 2" in junk


def test_a_single_page_of_companies_shows_no_pager(client):
    _firms(3)
    client.force_login(SupportFactory())

    body = client.get(reverse("home")).content.decode()

    assert len(_names(body)) == 3
    assert 'class="pager"' not in body


@pytest.mark.parametrize("page", ["1", "2", "3"])
def test_each_page_of_companies_costs_the_same_few_queries(
    client, django_assert_max_num_queries, page
):
    _firms(120)
    member = UserFactory()
    for company in Company.objects.all():
        MembershipFactory(user=member, company=company)
    for user, permissions in ((SupportFactory(), 2), (member, 0)):
        client.force_login(user)

        # session + user + the staff account's permissions (its own and its groups') + the
        # count + the page's companies + their connections + one grouped expense count
        with django_assert_max_num_queries(6 + permissions):
            response = client.get(reverse("home"), {"page": page})

        assert f"Page {page} of 3" in response.content.decode()


def test_member_of_another_company_gets_404(client):
    other = CompanyFactory()
    client.force_login(MembershipFactory().user)

    response = client.get(reverse("company-detail", args=[other.pk]))

    assert response.status_code == 404


def test_member_sees_their_company_page(client):
    membership = MembershipFactory(role=Role.VIEWER)
    client.force_login(membership.user)

    response = client.get(reverse("company-detail", args=[membership.company.pk]))

    assert response.status_code == 200
    assert membership.company.name in response.content.decode()


def test_unknown_company_id_is_404_not_500(client):
    client.force_login(SupportFactory())

    assert client.get(reverse("company-detail", args=[999999])).status_code == 404


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("role", "code_status", "approve_status"),
    [
        (Role.VIEWER, 403, 403),
        (Role.BOOKKEEPER, 200, 403),
        (Role.APPROVER, 200, 200),
    ],
)
def test_roles_gate_actions(client, role, code_status, approve_status):
    membership = MembershipFactory(role=role)
    client.force_login(membership.user)
    company_id = membership.company.pk

    assert client.get(f"/t/{company_id}/code/").status_code == code_status
    assert client.get(f"/t/{company_id}/approve/").status_code == approve_status


@pytest.mark.urls(__name__)
def test_refusal_names_the_role_needed(client):
    membership = MembershipFactory(role=Role.VIEWER)
    client.force_login(membership.user)

    response = client.get(f"/t/{membership.company.pk}/approve/")

    assert "approver role" in response.content.decode()


@pytest.mark.urls(__name__)
def test_role_on_one_company_gives_nothing_on_another(client):
    membership = MembershipFactory(role=Role.APPROVER)
    other = CompanyFactory()
    client.force_login(membership.user)

    assert client.get(f"/t/{other.pk}/approve/").status_code == 404


@pytest.mark.urls(__name__)
def test_support_with_the_push_permission_acts_as_approver_everywhere(client):
    client.force_login(SupportFactory())

    assert client.get(f"/t/{CompanyFactory().pk}/approve/").status_code == 200


@pytest.mark.urls(__name__)
def test_read_only_support_is_refused_naming_the_permission_to_ask_for(client):
    client.force_login(ReadOnlySupportFactory())
    company = CompanyFactory()

    coding = client.get(f"/t/{company.pk}/code/")
    approving = client.get(f"/t/{company.pk}/approve/")

    assert (coding.status_code, approving.status_code) == (403, 403)
    assert "“Can change company” permission" in approving.content.decode()


@pytest.mark.urls(__name__)
def test_the_staff_flag_alone_gets_404_everywhere(client):
    client.force_login(StaffFactory())

    assert client.get(f"/t/{CompanyFactory().pk}/code/").status_code == 404


def test_role_helpers_rank_roles():
    membership = MembershipFactory(role=Role.BOOKKEEPER)

    company, role = company_visible_with_role(
        user=membership.user, company_id=membership.company_id
    )

    assert (company, role) == (membership.company, Role.BOOKKEEPER)
    assert role_allows(role, needed=Role.VIEWER)
    assert role_allows(role, needed=Role.BOOKKEEPER)
    assert not role_allows(role, needed=Role.APPROVER)
    assert not role_allows(None, needed=Role.VIEWER)
    assert company_visible_with_role(user=UserFactory(), company_id=membership.company_id) == (
        None,
        None,
    )
    assert company_visible_with_role(user=SupportFactory(), company_id=membership.company_id) == (
        membership.company,
        Role.APPROVER,
    )
    assert company_visible_with_role(
        user=ReadOnlySupportFactory(), company_id=membership.company_id
    ) == (membership.company, Role.VIEWER)


@pytest.mark.parametrize("staff", [False, True])
def test_the_company_comes_with_its_configuration_and_connections_in_one_query(
    staff, django_assert_num_queries
):
    from companies.models import CompanyConfiguration, ConnectionKind, ConnectionStatus
    from companies.selectors import _connection_statuses, company_configuration
    from tests.factories import (
        ConnectionFactory,
        CustomerFactory,
        LedgerAccountFactory,
        SupplierFactory,
    )

    membership = MembershipFactory(role=Role.VIEWER)
    company = membership.company
    bank = LedgerAccountFactory(company=company, is_bank_account=True, name="Card")
    supplier, customer = SupplierFactory(company=company), CustomerFactory(company=company)
    CompanyConfiguration.objects.create(
        company=company, bank_account=bank, supplier=supplier, customer=customer
    )
    ConnectionFactory(company=company, kind=ConnectionKind.ACCOUNTING)
    # A newer connection, deleted since: only live connections count.
    ConnectionFactory(company=company, status=ConnectionStatus.UNLINKED, deleted_at=timezone.now())
    user = SupportFactory() if staff else membership.user
    user.get_all_permissions()  # read once a request, whatever the page (not this read's cost)

    with django_assert_num_queries(1):
        found, role = company_visible_with_role(user=user, company_id=company.pk)
        configuration = company_configuration(company=found)
        records = (configuration.bank_account, configuration.supplier, configuration.customer)
        statuses = _connection_statuses(found)

    assert role == (Role.APPROVER if staff else Role.VIEWER)
    assert (found, found.name) == (company, company.name)
    assert found.master_data_version == company.master_data_version
    assert records == (bank, supplier, customer)
    assert records[0].valid_transaction_types == bank.valid_transaction_types
    assert configuration.company is found
    assert statuses == {ConnectionKind.ACCOUNTING: ConnectionStatus.LINKED}


def test_a_company_without_configuration_reads_as_none():
    from companies.selectors import company_configuration

    membership = MembershipFactory()

    found, _ = company_visible_with_role(user=membership.user, company_id=membership.company_id)

    assert company_configuration(company=found) is None
