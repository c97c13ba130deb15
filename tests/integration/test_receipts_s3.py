"""Receipts in an S3 bucket (moto's S3 server on loopback): uploaded in the workspace they land
as private, checksummed objects; the preview is a short-lived signed URL; a real worker reads
them back from the bucket to attach them in the ledger; removing one deletes its object."""

import base64
import hashlib

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from companies.models import Role
from companies.platforms import Platform
from syncs.models import UploadState
from syncs.tasks import push_company
from tests.factories import ExpenseFactory, MembershipFactory
from tests.integration.conftest import wait_for
from tests.integration.moto_s3 import moto_server, s3_bucket  # noqa: F401 (fixtures)
from tests.integration.sandbox_company import control, onboard
from tests.integration.test_push_pipeline import _approved

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4 a receipt from Harbour Coffee, paid by card"


@pytest.fixture
def sandbox_env(live_server, settings, monkeypatch):
    from sandbox.models import SandboxSettings

    url = live_server.url + "/codat-sandbox"
    settings.CODAT_BASE_URL = url
    monkeypatch.setenv("CODAT_BASE_URL", url)
    SandboxSettings.objects.update_or_create(
        pk=1, defaults={"sync_delay_ms": 0, "webhook_url": "http://127.0.0.1:9/webhooks/codat/"}
    )
    return url


def _upload(client, expense, name="harbour.pdf", data=PDF):
    member = MembershipFactory(company=expense.company, role=Role.APPROVER)
    client.force_login(member.user)
    response = client.post(
        reverse("expense-receipt-upload", args=[expense.company_id, expense.pk]),
        {"receipts": SimpleUploadedFile(name, data, content_type="application/pdf")},
    )
    assert response.status_code == 302
    return expense.receipts.get()


def _attachments(books):
    ledger = control("GET", f"companies/{books.company.codat_company_id}/ledger").json()
    return {r["transactionId"]: r["attachments"] for r in ledger}


def test_a_workspace_receipt_lands_in_the_bucket_and_reaches_the_ledger(
    s3_bucket,  # noqa: F811
    sandbox_env,
    celery_worker,
    client,
):
    books = onboard(Platform.XERO)
    [expense] = _approved(books, 1)

    receipt = _upload(client, expense)

    # In the bucket, private, with the checksum S3 verified on upload, encrypted at rest.
    assert s3_bucket.keys() == [receipt.file.name]
    head = s3_bucket.client.head_object(
        Bucket=s3_bucket.name, Key=receipt.file.name, ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(PDF).digest()).decode()
    assert head["ServerSideEncryption"] == "AES256"
    grants = s3_bucket.client.get_object_acl(Bucket=s3_bucket.name, Key=receipt.file.name)
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in grants["Grants"]] == [
        ("CanonicalUser", "FULL_CONTROL")
    ]
    unsigned = f"{s3_bucket.endpoint}/{s3_bucket.name}/{receipt.file.name}"
    assert requests.get(unsigned, timeout=10).status_code == 403

    # The preview sends the browser to a signed URL that lives five minutes.
    preview = client.get(
        reverse("expense-receipt-file", args=[books.company.pk, expense.pk, receipt.pk])
    )
    assert preview.status_code == 302
    signed = preview["Location"]
    assert signed.startswith(f"{s3_bucket.endpoint}/{s3_bucket.name}/")
    assert "X-Amz-Signature=" in signed
    assert "X-Amz-Expires=300" in signed
    fetched = requests.get(signed, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == 'inline; filename="harbour.pdf"'

    # A real worker (its own process, configured from the environment) pushes the expense and
    # reads the receipt from the bucket to attach it to the ledger record.
    push_company.apply_async((books.company.pk,), queue=celery_worker.queue)
    wait_for(
        lambda: _attachments(books).get(str(expense.pk)) == 1,
        timeout=120,
        what="the receipt to be attached in the sandbox ledger",
        worker=celery_worker,
    )
    # The sandbox keeps the attachment before the worker has its answer and records it.
    wait_for(
        lambda: receipt.uploads.get().state == UploadState.UPLOADED,
        timeout=30,
        what="the worker to record the upload",
        worker=celery_worker,
    )
    # Delete policy: a push never deletes a receipt; the object stays for the records.
    assert s3_bucket.keys() == [receipt.file.name]


def test_removing_a_receipt_in_the_workspace_deletes_its_object(s3_bucket, client):  # noqa: F811
    expense = ExpenseFactory()
    receipt = _upload(client, expense)
    other = _upload(client, ExpenseFactory(company=expense.company), data=PDF + b" other")
    assert sorted(s3_bucket.keys()) == sorted([receipt.file.name, other.file.name])

    response = client.post(
        reverse("expense-receipt-remove", args=[expense.company_id, expense.pk, receipt.pk])
    )

    assert response.status_code == 302
    assert not expense.receipts.exists()
    assert s3_bucket.keys() == [other.file.name]


def test_a_filesystem_receipt_is_served_by_the_portal_itself(client, settings):
    expense = ExpenseFactory()
    receipt = _upload(client, expense)

    response = client.get(
        reverse("expense-receipt-file", args=[expense.company_id, expense.pk, receipt.pk])
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("inline")
