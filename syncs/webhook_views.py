"""The endpoint Codat's webhooks are delivered to. It verifies and records; it never calls
Codat (a poll is queued instead), so it answers well within Codat's 15-second limit."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from syncs.webhook_events import WebhookRejected, webhook_receive


@csrf_exempt  # Codat cannot send a CSRF token; the Svix signature proves the sender instead.
@login_not_required
@require_POST
def codat_webhook(request: HttpRequest) -> JsonResponse:
    try:
        receipt = webhook_receive(headers=request.headers, body=request.body)
    except WebhookRejected as rejected:
        return JsonResponse({"error": rejected.problem}, status=rejected.status)
    return JsonResponse(
        {
            "received": receipt.event.webhook_id,
            "duplicate": receipt.duplicate,
            "pollRequested": receipt.poll_requested,
        }
    )
