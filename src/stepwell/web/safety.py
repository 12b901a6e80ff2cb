"""Safety pages: the care team's task list and task page (acknowledge, risk screen, resolve),
"raise a concern" on a patient's page, and the admin's undelivered list."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stepwell.apps.core.content import risk_screen
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.outbox.services import notification_retry
from stepwell.apps.safety import selectors, services
from stepwell.domain.access.policy import Role
from stepwell.web.views import current_language, current_user, report_problems

STATUS_CHOICES = ("unresolved", "open", "acknowledged", "resolved", "all")


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    status = request.GET.get("status", "unresolved")
    if status not in STATUS_CHOICES:
        status = "unresolved"
    mine = request.GET.get("mine") == "1"
    now = timezone.now()
    try:
        tasks = selectors.safety_tasks(user=user, now=now, status=status, mine=mine)
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "web/safety/tasks.html",
        {"tasks": tasks, "status": status, "mine": mine, "now": now, "statuses": STATUS_CHOICES},
    )


def _task_action(request: HttpRequest, task_id: int) -> None:
    """Carry out the posted action; errors become messages on the same page."""
    user = current_user(request)
    now = timezone.now()
    action = request.POST.get("action", "")
    actions = [line for line in request.POST.get("actions", "").splitlines() if line.strip()]
    if action == "acknowledge":
        services.task_acknowledge(actor=user, task_id=task_id, now=now)
        messages.success(request, _("Acknowledged: the task will not escalate."))
    elif action == "assess":
        screen: dict[str, object] = {}
        for q in risk_screen().questions:
            answer = request.POST.get(f"screen-{q.code}", "")
            if answer in ("yes", "no"):
                screen[q.code] = answer == "yes"
        services.task_assess(
            actor=user,
            task_id=task_id,
            screen=screen,
            risk_level=request.POST.get("risk_level", ""),
            actions=actions,
            now=now,
        )
        messages.success(request, _("Risk assessment recorded."))
    elif action == "resolve":
        services.task_resolve(
            actor=user, task_id=task_id, note=request.POST.get("note", ""), actions=actions, now=now
        )
        messages.success(request, _("Task resolved."))
    else:
        messages.error(request, _("Unknown action."))


@login_required
@require_http_methods(["GET", "POST"])
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    user = current_user(request)
    if request.method == "POST":
        try:
            _task_action(request, task_id)
        except NotFound:
            raise Http404 from None
        except Forbidden as exc:
            messages.error(request, str(exc))
        except InvalidInput as exc:
            report_problems(request, exc)
        return redirect("safety-task", task_id=task_id)
    now = timezone.now()
    try:
        detail = selectors.safety_task(user=user, task_id=task_id, now=now)
    except NotFound:
        raise Http404 from None
    context: dict[str, Any] = {
        "d": detail,
        "t": detail.task,
        "now": now,
        "screen": risk_screen(),
        "language": current_language(),
        "is_clinician": user.role == Role.CLINICIAN,
        "chain": [detail.people.get(uid, "?") for uid in detail.task.owner_chain],
    }
    return render(request, "web/safety/task.html", context)


@login_required
@require_POST
def concern_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    try:
        services.concern_raise(
            actor=user,
            patient_id=patient_id,
            text=request.POST.get("text", ""),
            urgency=request.POST.get("urgency", ""),
            now=timezone.now(),
        )
    except NotFound:
        raise Http404 from None
    except Forbidden as exc:
        messages.error(request, str(exc))
    except InvalidInput as exc:
        report_problems(request, exc)
    else:
        messages.success(
            request, _("Your concern was sent to the clinician on call. Thank you for raising it.")
        )
    if request.POST.get("next") == "peer-home":  # raised from the peer's own home page
        return redirect("peer-home")
    return redirect("patient-detail", patient_id=patient_id)


@login_required
@require_http_methods(["GET", "POST"])
def undelivered(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if user.role != Role.ADMIN:
        raise Http404
    now = timezone.now()
    if request.method == "POST":
        try:
            notification_retry(
                actor=user, notification_id=int(request.POST.get("notification", "0")), now=now
            )
        except (ValueError, NotFound):
            messages.error(request, _("notification: no such message"))
        else:
            messages.success(request, _("Queued again; the worker will retry it."))
        return redirect("safety-undelivered")
    return render(
        request,
        "web/safety/undelivered.html",
        {"u": selectors.undelivered(user=user, now=now), "now": now},
    )
