"""A webhook without a valid signature changes nothing: no WebhookEvent, no poll queued, the
sync untouched — whatever the headers and body say."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from svix.webhooks import Webhook

from syncs.models import SyncState, WebhookEvent
from tests.factories import SyncFactory

pytestmark = pytest.mark.django_db

OTHER_SECRET = "whsec_b3RoZXItc2VjcmV0LW5vdC1jb2RhdHM="


def _body(sync) -> str:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "eventType": "expenses.sync.successful",
            "generatedDate": "2026-11-23T10:00:00.000Z",
            "payload": {
                "referenceCompany": {"id": str(sync.company.codat_company_id), "name": "X"},
                "syncId": str(sync.codat_sync_id),
                "transactions": [],
            },
        }
    )


header_values = st.one_of(
    st.text(max_size=80).filter(lambda s: "\n" not in s and "\r" not in s),
    st.just("v1,AAAA"),
    st.just("v1," + "A" * 44),
    st.from_regex(r"msg_[0-9a-f]{8}", fullmatch=True),
    st.integers(min_value=0, max_value=2**40).map(str),
)


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "svix-id",
                "svix-timestamp",
                "svix-signature",
            ]
        ),
        header_values,
    ),
    tamper=st.booleans(),
)
def test_unsigned_or_badly_signed_webhooks_change_nothing(
    django_capture_on_commit_callbacks, headers, tamper
):
    sync = SyncFactory(state=SyncState.IN_PROGRESS, codat_sync_id=uuid.uuid4())
    body = _body(sync)
    if tamper:
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(OTHER_SECRET).sign(msg_id, now, body),
        }

    with django_capture_on_commit_callbacks() as callbacks:
        response = Client().post(
            reverse("codat-webhook"), data=body, content_type="application/json", headers=headers
        )

    assert response.status_code in {400, 401}, response.content
    assert "error" in response.json()
    assert callbacks == []
    assert not WebhookEvent.objects.exists()
    sync.refresh_from_db()
    assert sync.state == SyncState.IN_PROGRESS
