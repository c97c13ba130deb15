"""`/favicon.ico`, which browsers ask for on pages that name no icon (the admin's, a PDF
receipt opened alone): a redirect to the icon among the static files, so no page logs a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@require_safe
@login_not_required
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    # Temporary, so that a new icon (a new hashed name) is picked up within a day.
    return HttpResponseRedirect(static("favicon.ico"))
