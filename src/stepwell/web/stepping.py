"""Stepped-care pages: the registry (the care team's daily view), an episode's
recommendations with accept/override."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.selectors import sites_for
from stepwell.apps.stepping import conferences, selectors, services
from stepwell.apps.stepping.protocols import active_protocol, protocol_error
from stepwell.domain.access.policy import policy_for
from stepwell.web.forms import FLAG_LABELS, RegistryFilterForm
from stepwell.web.views import current_language, current_user, report_problems

PAGE_SIZE = 50


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the page the form was on, if it is a page of this site (never elsewhere)."""
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(referer if referer and safe else "/")


@login_required
@require_GET
def registry(request: HttpRequest) -> HttpResponse:
    """Who needs what, and why: open episodes with flags, scores, weeks on step, review."""
    user = current_user(request)
    form = RegistryFilterForm(request.GET or None, user=user)
    filters = form.cleaned_data if form.is_valid() else {}
    page_no = filters.get("page") or 1
    site = filters.get("site")
    try:
        page = selectors.caseload(
            user=user,
            now=timezone.now(),
            language=current_language(),
            flag=filters.get("flag") or None,
            site_id=site.pk if site is not None else None,
            step=filters.get("step"),
            sort=filters.get("sort") or "flags",
            limit=PAGE_SIZE,
            offset=(page_no - 1) * PAGE_SIZE,
        )
    except NotFound:
        raise Http404 from None
    last_page = max(1, -(-page.count // PAGE_SIZE))
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "flag_labels": FLAG_LABELS,
        "protocol": active_protocol(),
        "protocol_error": protocol_error(),
        "page_no": page_no,
        "last_page": last_page,
        "prev_page": page_no - 1 if page_no > 1 else None,
        "next_page": page_no + 1 if page_no < last_page else None,
        "query": query.urlencode(),
    }
    htmx = bool(getattr(request, "htmx", False))
    template = "web/stepping/_registry_table.html" if htmx else "web/stepping/registry.html"
    return render(request, template, context)


@login_required
@require_POST
def episode_review(request: HttpRequest, episode_id: int) -> HttpResponse:
    """Run the protocol on one episode now, then show its recommendations."""
    user = current_user(request)
    try:
        recs = services.episode_review(actor=user, episode_id=episode_id, now=timezone.now())
    except NotFound:
        raise Http404 from None
    patient_id = recs[0].episode.patient_id if recs else None
    if patient_id is None:
        raise Http404
    return redirect(f"/patients/{patient_id}/#recommendations")


@login_required
@require_POST
def step_decision(request: HttpRequest, episode_id: int) -> HttpResponse:
    """Accept or override one recommendation from the patient page."""
    user = current_user(request)
    decision = request.POST.get("decision", "")
    # The override's step chooser is in the same form; accepting takes the recommended step.
    raw_step = request.POST.get("to_step", "").strip() if decision != "accept" else ""
    try:
        rec_id = int(request.POST.get("recommendation_id", ""))
        to_step = int(raw_step) if raw_step else None
    except ValueError:
        messages.error(request, _("The form was incomplete; nothing was changed."))
        return _back(request)
    try:
        made = services.step_decision_record(
            actor=user,
            episode_id=episode_id,
            recommendation_id=rec_id,
            decision=decision,
            to_step=to_step,
            reason=request.POST.get("reason", ""),
            now=timezone.now(),
        )
    except (NotFound, Forbidden):
        raise Http404 from None
    except InvalidInput as exc:
        report_problems(request, exc)
        return _back(request)
    if made.decision == "accept":
        messages.success(request, _("Recommendation accepted; the step history records it."))
    else:
        messages.success(request, _("Recommendation overridden; your reason is recorded."))
    return redirect(f"/patients/{made.episode.patient_id}/#recommendations")


# --- case conferences ------------------------------------------------------------------------


def _reason_lines(reasons: list[dict[str, object]]) -> list[str]:
    return selectors.reason_texts(reasons, current_language())


@login_required
@require_http_methods(["GET", "POST"])
def conference_list(request: HttpRequest) -> HttpResponse:
    """Patients needing multidisciplinary review, planning a conference, past conferences."""
    user = current_user(request)
    now = timezone.now()
    try:
        candidates = conferences.conference_candidates(user=user, now=now)
        planned = conferences.conferences_for(user=user)
    except NotFound:
        raise Http404 from None
    errors: list[str] = []
    if request.method == "POST":
        try:
            when = datetime.fromisoformat(request.POST.get("scheduled_for", ""))
            site_id = int(request.POST.get("site_id", ""))
            rec_ids = [int(x) for x in request.POST.getlist("recommendation_ids")]
        except ValueError:
            errors.append(_("Choose a site and a date and time."))
        else:
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            try:
                made = conferences.case_conference_plan(
                    actor=user,
                    site_id=site_id,
                    title=request.POST.get("title", ""),
                    scheduled_for=when,
                    recommendation_ids=rec_ids,
                    now=now,
                )
            except Forbidden:
                raise Http404 from None
            except InvalidInput as exc:
                errors.extend(f"{p.field}: {p.message}" for p in exc.problems)
            else:
                messages.success(request, _("Case conference planned."))
                return redirect("conference-detail", conference_id=made.pk)
    return render(
        request,
        "web/stepping/conferences.html",
        {
            "candidates": [(r, _reason_lines(r.reasons)) for r in candidates],
            "conferences": planned,
            "sites": sites_for(user),
            "errors": errors,
            "may_plan": policy_for(user.role).may_plan_conferences,
            "default_when": timezone.localtime(now).strftime("%Y-%m-%dT%H:00"),
        },
    )


@login_required
@require_GET
def conference_detail(request: HttpRequest, conference_id: int) -> HttpResponse:
    user = current_user(request)
    try:
        view = conferences.conference_detail(
            user=user, conference_id=conference_id, now=timezone.now()
        )
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "web/stepping/conference_detail.html",
        {
            "conference": view.conference,
            "items": [(i, _reason_lines(i.question)) for i in view.items],
            "staff": conferences.conference_staff(view.conference),
            "attending": {u.pk for u in view.conference.attendees.all()},
            "may_plan": policy_for(user.role).may_plan_conferences,
            "may_decide": policy_for(user.role).may_decide_steps,
        },
    )


def _conference_write(request: HttpRequest, write: Callable[[], object], done: str) -> None:
    """Run one conference service call; its problems become messages, a refusal a 404."""
    try:
        write()
    except (NotFound, Forbidden):
        raise Http404 from None
    except InvalidInput as exc:
        report_problems(request, exc)
    else:
        messages.success(request, done)


@login_required
@require_POST
def conference_attendance(request: HttpRequest, conference_id: int) -> HttpResponse:
    user = current_user(request)
    _conference_write(
        request,
        lambda: conferences.case_conference_attendance(
            actor=user,
            conference_id=conference_id,
            attendee_ids=[int(x) for x in request.POST.getlist("attendee_ids") if x.isdigit()],
            other_attendees=request.POST.get("other_attendees", ""),
            now=timezone.now(),
        ),
        _("Attendance recorded."),
    )
    return redirect("conference-detail", conference_id=conference_id)


@login_required
@require_POST
def conference_item(request: HttpRequest, conference_id: int, item_id: int) -> HttpResponse:
    user = current_user(request)
    raw = request.POST.get("next_step", "").strip()
    _conference_write(
        request,
        lambda: conferences.conference_item_record(
            actor=user,
            item_id=item_id,
            outcome=request.POST.get("outcome", ""),
            actions=request.POST.get("actions", ""),
            next_step=int(raw) if raw.isdigit() else None,
            now=timezone.now(),
        ),
        _("Decision recorded; it is part of the patient's record."),
    )
    return redirect("conference-detail", conference_id=conference_id)
