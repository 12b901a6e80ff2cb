"""The REST API (``/api/v1``), documented at ``/api/v1/docs``."""

from __future__ import annotations

from ninja import NinjaAPI

import stepwell
from stepwell.api import (
    coordination,
    errors,
    measurement,
    peers,
    safety,
    safety_plan,
    stepping,
    sync,
)
from stepwell.api.routes import auth_router, router

api = NinjaAPI(
    title="Stepwell API",
    version=stepwell.__version__,
    description="Stepped psychosomatic care with integrated peer support. "
    "Log in with POST /api/v1/auth/token, then send Authorization: Bearer <token>.",
    urls_namespace="api-v1",
)
errors.install(api)
api.add_router("/auth", auth_router, tags=["auth"])
api.add_router("/", router)
api.add_router("/", measurement.router)
api.add_router("/", stepping.router)
api.add_router("/", safety.router)
api.add_router("/", safety_plan.router)
api.add_router("/", sync.router)
api.add_router("/", peers.router)
api.add_router("/", coordination.router)
api.add_router("/", coordination.webhook_router)
