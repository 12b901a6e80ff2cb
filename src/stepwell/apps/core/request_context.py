"""The current request's id, readable from services without passing the request around."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("stepwell_request_id", default="")


def current_request_id() -> str:
    return request_id_var.get()
