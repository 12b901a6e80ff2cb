"""Template context for every page."""

from __future__ import annotations

from django.http import HttpRequest

from stepwell.apps.safety.selectors import my_open_task_count
from stepwell.apps.safety.services import TASK_ROLES


def safety_alert(request: HttpRequest) -> dict[str, int]:
    """The count of safety tasks waiting for the logged-in owner: the in-app notification
    beside the SMS and e-mail ones, shown in the header on every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.role not in TASK_ROLES:
        return {}
    return {"my_open_safety_tasks": my_open_task_count(user)}
