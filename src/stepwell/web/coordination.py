"""Care-coordination pages: the barrier list."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from stepwell.apps.coordination.selectors import barriers_open
from stepwell.apps.core.errors import NotFound
from stepwell.web.views import current_language, current_user


@login_required
@require_GET
def barrier_list(request: HttpRequest) -> HttpResponse:
    """Open barriers of the patients the user sees, oldest first: the coordinator's list."""
    try:
        rows = barriers_open(
            user=current_user(request), now=timezone.now(), language=current_language()
        )
    except NotFound:
        raise Http404 from None
    return render(request, "web/coordination/barriers.html", {"rows": rows})
