"""Log-in for the API: issuing and checking bearer tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection
from django.http import HttpRequest

from stepwell.apps.accounts.models import ApiToken, User
from stepwell.apps.audit.services import audit_record


class LoginFailed(Exception):
    """Wrong user name or password (deliberately not saying which)."""


class LockedOut(Exception):
    """Too many failed attempts; the account is locked for the cool-off time."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(
    *, request: HttpRequest, username: str, password: str, now: datetime
) -> tuple[str, ApiToken]:
    """Check the credentials (with lockout) and return ``(raw_token, token)``.

    Only the SHA-256 of the token is stored, so a database leak does not leak sessions.
    """
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut
    if user is None or not isinstance(user, User):
        raise LoginFailed
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=_digest(raw),
        created_at=now,
        expires_at=now + timedelta(hours=settings.STEPWELL_TOKEN_HOURS),
    )
    audit_record(
        actor=user, action="auth.token_issued", now=now, object_type="api_token", object_id=token.pk
    )
    return raw, token


@cache
def _token_user_sql() -> str:
    columns = ", ".join(f'u."{f.column}"' for f in User._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM accounts_user u "  # noqa: S608 - fixed SQL only
        "JOIN accounts_apitoken t ON t.user_id = u.id "
        "WHERE t.key_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND u.is_active"
    )


def api_token_user(raw: str, *, now: datetime) -> User | None:
    """The active user behind a bearer token, or None if unknown, expired or revoked.

    One plain query: every API request runs it, and building the ORM query and its two
    model instances cost several times more than the query itself.
    """
    at = connection.ops.adapt_datetimefield_value(now) if connection.vendor == "sqlite" else now
    # raw() applies the backend's converters (SQLite's datetimes come back aware as well).
    return next(iter(User.objects.raw(_token_user_sql(), [_digest(raw), at])), None)
