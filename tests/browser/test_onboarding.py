"""Support connects a company from the UI: name and platform, the customer's link (played here
on the sandbox's Link page), the pull, the configuration, ready."""

from __future__ import annotations

import pytest

from companies.models import Company, CompanyStatus
from demo.seed import demo_users_ensure
from sandbox.models import SandboxSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_connects_a_company_through_to_its_configuration(page, live_server, settings):
    settings.CODAT_BASE_URL = live_server.url + "/codat-sandbox"
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    demo_users_ensure()
    page.goto("/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Connect a company").click()
    page.get_by_label("Company name").fill("Harbour Coffee Ltd")
    page.get_by_label("Accounting software").select_option(label="QuickBooks Online")
    page.get_by_role("button", name="Create in Codat").click()

    page.get_by_role("heading", name="Connecting Harbour Coffee Ltd").wait_for()
    link_url = page.get_by_label("Link for the customer").input_value()
    assert "/codat-sandbox/link/" in link_url
    assert page.get_by_role("button", name="Copy link").is_visible()

    customer = page.context.new_page()
    customer.goto(link_url)
    customer.get_by_role("button", name="Authorize QuickBooks Online").click()
    customer.get_by_text("has authorised access").wait_for()
    customer.close()

    page.get_by_role("button", name="Check the connection now").click()
    page.get_by_role("heading", name="Configuration").wait_for()
    assert page.locator('[data-state="done"]').count() == 4
    bank_options = page.get_by_label("Default bank account").locator("option").all_text_contents()
    assert bank_options
    assert all("(USD)" in o or "(CAD)" in o for o in bank_options)
    page.get_by_label("Default supplier").select_option(index=1)
    page.get_by_role("button", name="Save configuration").click()

    page.locator("#onboarding-ready").wait_for()
    company = Company.objects.get(name="Harbour Coffee Ltd")
    assert company.status == CompanyStatus.READY
    assert company.base_currency == "USD"
