"""One error shape for the whole API: ``{"detail": "…", "errors": [{"field", "message"}]}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound

_WRAPPERS = {"body", "query", "path", "payload", "form", "header", "cookie"}


def _field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if str(p) not in _WRAPPERS]
    return ".".join(parts) or "body"


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "this field is required"
    msg = str(err.get("msg", "invalid value"))
    if "input" in err and kind not in {"json_invalid"} and not isinstance(err["input"], dict):
        return f"{msg} (got {err['input']!r})"[:300]
    return msg


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = [
            {"field": _field_name(e.get("loc", ())), "message": _message(e)} for e in exc.errors
        ]
        return api.create_response(
            request, {"detail": "invalid input", "errors": errors}, status=422
        )

    @api.exception_handler(InvalidInput)
    def invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        return api.create_response(
            request, {"detail": "invalid input", "errors": errors}, status=422
        )

    @api.exception_handler(NotFound)
    def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
        return api.create_response(request, {"detail": "not found"}, status=404)

    @api.exception_handler(Forbidden)
    def forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
        return api.create_response(request, {"detail": str(exc)}, status=403)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, {"detail": "log in first: send Authorization: Bearer <token>"}, status=401
        )
