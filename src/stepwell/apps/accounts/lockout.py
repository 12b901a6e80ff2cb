"""What a locked-out log-in gets: JSON for API clients, a page for people."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "too many failed log-ins; try again later", "errors": []}, status=429
        )
    return render(request, "web/locked_out.html", status=429)
