"""The endpoint Codat's webhooks are delivered to. It verifies and records; it never calls
Codat (a poll is queued instead), so it answers well within Codat's 15-second limit."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sfe_portal.request_body import BodyTooLarge, body_within
from syncs.webhook_events import WebhookRejected, webhook_receive

# Codat's expense-sync webhooks are a few kilobytes, a line per transaction; anything near this
# is not one of them, and is refused before it is read.
MAX_BODY_BYTES = 5 * 1024 * 1024


@csrf_exempt  # Codat cannot send a CSRF token; the Svix signature proves the sender instead.
@login_not_required
@require_POST
def codat_webhook(request: HttpRequest) -> JsonResponse:
    try:
        body = body_within(request, limit=MAX_BODY_BYTES)
    except BodyTooLarge as too_large:
        return JsonResponse({"error": too_large.message, "maxBytes": MAX_BODY_BYTES}, status=413)
    try:
        receipt = webhook_receive(headers=request.headers, body=body)
    except WebhookRejected as rejected:
        return JsonResponse({"error": rejected.problem}, status=rejected.status)
    return JsonResponse(
        {
            "received": receipt.event.webhook_id,
            "duplicate": receipt.duplicate,
            "pollRequested": receipt.poll_requested,
        }
    )
