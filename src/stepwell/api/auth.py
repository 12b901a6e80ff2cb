from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from stepwell.apps.accounts.services import api_token_user


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <token>`` from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_user(token, now=timezone.now())
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The browser session (with CSRF checks on writes), for pages that call the API."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


AUTH = [BearerAuth(), ActiveSessionAuth()]


def request_user(request: HttpRequest) -> Any:
    """The user the request authenticated as (token or session)."""
    return request.auth  # type: ignore[attr-defined]


def request_language(request: HttpRequest, asked: str | None) -> str:
    """The language a response's texts are in: ``?lang=`` when given, else the user's
    preferred language when Stepwell has it, else English."""
    if asked:
        return asked
    preferred = getattr(request.auth, "preferred_language", "en")  # type: ignore[attr-defined]
    return preferred if preferred in ("en", "es") else "en"
