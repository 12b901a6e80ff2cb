"""Server-rendered pages. Thin: read the request, call a selector or service, render."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection
from django.db.utils import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

import stepwell
from stepwell.apps.access.selectors import break_glass_grants_active
from stepwell.apps.access.services import break_glass_grant
from stepwell.apps.accounts.models import User
from stepwell.apps.coordination.content import barrier_vocabulary, coordination_rules
from stepwell.apps.coordination.selectors import appointments_between, coordinator_home
from stepwell.apps.coordination.services import CARE_TEAM_ROLES
from stepwell.apps.core.content import suppression_rule
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.registry import instruments
from stepwell.apps.measurement.selectors import assessment_summary
from stepwell.apps.network.models import Site
from stepwell.apps.patients import selectors
from stepwell.apps.patients.models import Patient
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.selectors import patient_peer_encounters, peers_supervised_by
from stepwell.apps.safety.selectors import open_risk_by_patient, own_concerns
from stepwell.apps.safety.services import CONCERN_ROLES
from stepwell.apps.stepping.conferences import conference_outcomes_for_patient
from stepwell.apps.stepping.selectors import patient_recommendations
from stepwell.domain.access.policy import Role, Scope, View, policy_for
from stepwell.domain.metrics.suppression import suppress
from stepwell.web.forms import BreakGlassForm, PatientFilterForm

PAGE_SIZE = 25


def current_language() -> str:
    """The active interface language as one of settings.LANGUAGES' codes ("en" otherwise)."""
    language = (get_language() or "en")[:2]
    return language if language in dict(settings.LANGUAGES) else "en"


def report_problems(request: HttpRequest, exc: InvalidInput) -> None:
    """Show each problem of a refused form as a message naming its field."""
    for problem in exc.problems:
        messages.error(request, f"{problem.field}: {problem.message}")


def current_user(request: HttpRequest) -> User:
    """The logged-in user (views using this are behind login_required)."""
    user = request.user
    assert isinstance(user, User)
    return user


class LoginView(auth_views.LoginView):
    """Log-in that switches the interface to the user's preferred language."""

    template_name = "web/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        language = getattr(form.get_user(), "preferred_language", "")
        if language in dict(settings.LANGUAGES):
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and the demo."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status, code = "ok", 200
    except DatabaseError:
        status, code = "database-unreachable", 503
    return JsonResponse(
        {"status": status, "database": connection.vendor, "version": stepwell.__version__},
        status=code,
    )


def _patient_page(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    form = PatientFilterForm(request.GET or None, user=user)
    filters = form.cleaned_data if form.is_valid() else {}
    page_no = filters.get("page") or 1
    site = filters.get("site")
    page = selectors.patient_list(
        user=user,
        now=timezone.now(),
        site_id=site.pk if site is not None else None,
        step=int(filters["step"]) if filters.get("step") else None,
        search=filters.get("q") or "",
        limit=PAGE_SIZE,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    last_page = max(1, -(-page.count // PAGE_SIZE))
    return {
        "form": form,
        "page": page,
        "page_no": page_no,
        "last_page": last_page,
        "prev_page": page_no - 1 if page_no > 1 else None,
        "next_page": page_no + 1 if page_no < last_page else None,
    }


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    role = user.role
    if role == Role.PATIENT:
        own = Patient.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
        if own is None:
            return render(request, "web/home_patient_missing.html")
        return redirect("patient-detail", patient_id=own)
    if role == Role.PEER:
        # A peer's day starts from their matched patients and next contacts.
        return redirect("peer-home")
    if role in {Role.CLINICIAN, Role.COORDINATOR, Role.CHW}:
        # The day's coordination (appointments, barriers, referrals, failed reminders)
        # above the caseload.
        context = _patient_page(request) | {
            "coord": coordinator_home(user=user, now=timezone.now(), language=current_language()),
            "coord_zone": coordination_rules().default.time_zone,
        }
        return render(request, "web/home_caseload.html", context)
    if role == Role.PEER_SUPERVISOR:
        return render(
            request,
            "web/home_supervisor.html",
            {"peers": peers_supervised_by(user)},
        )
    if role == Role.MANAGER:
        rule = suppression_rule()
        cells = [
            (c, suppress(c.patients, rule)) for c in selectors.open_episodes_by_site_and_step()
        ]
        return render(
            request,
            "web/home_manager.html",
            {"cells": cells, "rule_version": rule.version, "min_cell": rule.min_cell},
        )
    if role == Role.ADMIN:
        return render(
            request,
            "web/home_admin.html",
            {
                "sites": Site.objects.order_by("name"),
                "grants": break_glass_grants_active(now=timezone.now()),
                "form": BreakGlassForm(),
                "break_glass_hours": settings.STEPWELL_BREAK_GLASS_HOURS,
            },
        )
    raise Http404


@login_required
@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    """The caseload table; htmx asks for the table alone when filters change."""
    policy = policy_for(current_user(request).role)
    if policy.scope is Scope.NONE and not policy.may_break_glass:
        raise Http404
    htmx = bool(getattr(request, "htmx", False))
    template = "web/_patient_table.html" if htmx else "web/home_caseload.html"
    return render(request, template, _patient_page(request))


@login_required
@require_GET
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    now = timezone.now()
    try:
        record = selectors.patient_detail(user=user, patient_id=patient_id, now=now)
    except NotFound:
        raise Http404 from None
    context: dict[str, Any] = {
        "record": record,
        # The banner: care-team views only (peers see their own concerns' status; the
        # patient's page carries no risk flag). ``record`` has already passed the access check.
        "open_risk": (
            open_risk_by_patient([patient_id]).get(patient_id)
            if record.view is View.FULL and user.role != Role.PATIENT
            else None
        ),
        "may_raise_concern": user.role in CONCERN_ROLES,
    }
    if user.role in {Role.PEER, Role.CHW}:
        context["own_concerns"] = own_concerns(user=user, patient_id=patient_id, now=now)
    if user.role != Role.PATIENT:
        context["peer_encounters"] = _peer_encounters(user, patient_id, now)
    if record.view is View.FULL and user.role != Role.PATIENT:
        context |= _appointments_section(user, patient_id, now)
    if record.view is View.FULL:
        context |= {
            "measures": assessment_summary(user=user, patient_id=patient_id, now=now),
            "instruments": instruments(),
            "may_record": policy_for(user.role).may_record_assessments,
            "is_patient": user.role == Role.PATIENT,
            "language": current_language(),
            "recommendations": patient_recommendations(
                user=user, patient_id=patient_id, now=now, language=current_language()
            ),
            "may_decide": policy_for(user.role).may_decide_steps,
            "conference_outcomes": conference_outcomes_for_patient(
                user=user, patient_id=patient_id, now=now
            ),
        }
    return render(request, "web/patient_detail.html", context)


def _peer_encounters(user: User, patient_id: int, now: datetime) -> list[dict[str, Any]]:
    """The record's peer-support section: encounters with their codes in words."""
    vocabulary = peer_content().vocabulary
    barriers = barrier_vocabulary()
    language = current_language()
    return [
        {
            "e": e,
            "modality": vocabulary.text("encounter_modalities", e.modality, language),
            "topics": [vocabulary.text("encounter_topics", t, language) for t in e.topics],
            "barriers": [barriers.label("kinds", b, language) for b in e.barriers],
        }
        for e in patient_peer_encounters(user=user, patient_id=patient_id, now=now)
    ]


def _appointments_section(user: User, patient_id: int, now: datetime) -> dict[str, Any]:
    """The record's appointments: the last 90 days and the year ahead."""
    return {
        "appointments": appointments_between(
            user=user,
            now=now,
            start=now - timedelta(days=90),
            end=now + timedelta(days=365),
            language=current_language(),
            patient_id=patient_id,
        ),
        "appointments_zone": coordination_rules().default.time_zone,
        "may_book": user.role in CARE_TEAM_ROLES,
    }


@login_required
@require_http_methods(["GET", "POST"])
def break_glass(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not policy_for(user.role).may_break_glass:
        raise Http404
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = break_glass_grant(
                user=user,
                record_number=form.cleaned_data["record_number"],
                reason=form.cleaned_data["reason"],
                now=timezone.now(),
            )
        except InvalidInput as exc:
            for problem in exc.problems:
                form.add_error(
                    problem.field if problem.field in form.fields else None, problem.message
                )
        except Forbidden:
            raise Http404 from None
        else:
            messages.warning(
                request,
                _(
                    "Emergency access granted until %(time)s. It is recorded and visible to "
                    "all administrators."
                )
                % {"time": timezone.localtime(grant.expires_at).strftime("%H:%M")},
            )
            return redirect("patient-detail", patient_id=grant.patient_id)
    return render(
        request,
        "web/break_glass.html",
        {"form": form, "break_glass_hours": settings.STEPWELL_BREAK_GLASS_HOURS},
    )
