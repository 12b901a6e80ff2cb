"""Safety-plan pages: the plan with the crisis numbers (care team and the patient), an edit
form for the care team (one textarea per section, one entry per line) that saves a new
version, and a printable copy in the patient's preferred language."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.safety.plans import (
    CurrentSafetyPlan,
    may_edit_safety_plans,
    safety_plan_current,
    safety_plan_save,
    safety_plan_versions,
)
from stepwell.domain.access.policy import Role
from stepwell.domain.safety.plan import TOO_LONG, TOO_MANY, SafetyPlanError
from stepwell.web.views import current_language, current_user

_LANGUAGES = {code for code, _name in settings.LANGUAGES}

# Titles and prompts in the patient's voice: the printed plan is the patient's document.
SECTION_TEXT = {
    "warning_signs": (
        gettext_lazy("Warning signs"),
        gettext_lazy(
            "Thoughts, images, moods, situations or behaviours that tell me a crisis may be "
            "starting"
        ),
    ),
    "coping_strategies": (
        gettext_lazy("Things I can do on my own"),
        gettext_lazy("Ways to take my mind off my problems without contacting anyone"),
    ),
    "distraction_people_places": (
        gettext_lazy("People and places that take my mind off things"),
        gettext_lazy("People I can be with and places I can go to feel better"),
    ),
    "people_to_ask_for_help": (
        gettext_lazy("People I can ask for help"),
        gettext_lazy("Names and phone numbers of people I can talk to about how I feel"),
    ),
    "professionals_and_crisis_lines": (
        gettext_lazy("Professionals and services I can contact"),
        gettext_lazy("My clinic, clinicians and other services, with their phone numbers"),
    ),
    "making_environment_safe": (
        gettext_lazy("Making my surroundings safe"),
        gettext_lazy("How I keep things I could harm myself with out of reach"),
    ),
    "reasons_for_living": (
        gettext_lazy("My reasons for living"),
        gettext_lazy("The things that are most important to me and worth living for"),
    ),
}


class SafetyPlanForm(forms.Form):
    """One textarea per section, one entry per line. Lines are numbered as typed (blank
    lines kept, spaces not stripped here) so a problem can name the line at fault."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, (title, prompt) in SECTION_TEXT.items():
            self.fields[code] = forms.CharField(
                label=title,
                help_text=prompt,
                required=False,
                strip=False,
                widget=forms.Textarea(attrs={"rows": 4, "style": "width:100%"}),
            )

    def sections(self) -> dict[str, list[str]]:
        return {code: self.cleaned_data[code].splitlines() for code in SECTION_TEXT}


def _initial(current: CurrentSafetyPlan) -> dict[str, str]:
    return {code: "\n".join(entries) for code, entries in current.sections.items()}


def _explain(form: SafetyPlanForm, exc: InvalidInput) -> None:
    """Put each problem on its section, in the interface language, by line number."""
    cause = exc.__cause__
    if not isinstance(cause, SafetyPlanError):
        for problem in exc.problems:
            form.add_error(None, problem.message)
        return
    for p in cause.problems:
        field = p.section if p.section in form.fields else None
        if p.code == TOO_LONG and p.index is not None:
            message = _("Line %(line)d is %(length)d characters long; at most %(max)d.") % {
                "line": p.index + 1,
                "length": p.actual,
                "max": p.limit,
            }
        elif p.code == TOO_MANY:
            message = _("%(count)d entries; at most %(max)d. Put one entry per line.") % {
                "count": p.actual,
                "max": p.limit,
            }
        else:
            message = p.message
        form.add_error(field, message)


def _current_or_404(request: HttpRequest, patient_id: int, action: str) -> CurrentSafetyPlan:
    try:
        return safety_plan_current(
            actor=current_user(request), patient_id=patient_id, now=timezone.now(), action=action
        )
    except NotFound:
        raise Http404 from None


@login_required
@require_http_methods(["GET", "POST"])
def safety_plan_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    may_edit = may_edit_safety_plans(user.role)
    if request.method == "POST" and not may_edit:
        raise Http404
    form = SafetyPlanForm(request.POST) if request.method == "POST" else None
    if form is not None and form.is_valid():
        try:
            plan = safety_plan_save(
                actor=user, patient_id=patient_id, sections=form.sections(), now=timezone.now()
            )
        except InvalidInput as exc:
            _explain(form, exc)
        except (NotFound, Forbidden):
            raise Http404 from None
        else:
            messages.success(
                request, _("Safety plan saved as version %(version)d.") % {"version": plan.version}
            )
            return redirect("safety-plan", patient_id=patient_id)
    current = _current_or_404(request, patient_id, "safety_plan.viewed")
    if may_edit and form is None:
        form = SafetyPlanForm(initial=_initial(current))
    history = (
        safety_plan_versions(actor=user, patient_id=patient_id, now=timezone.now())
        if may_edit
        else []
    )
    return render(
        request,
        "web/safety_plan/plan.html",
        {
            "current": current,
            "record": current.record,
            "sections": _sections(current),
            "form": form,
            "history": history,
            "is_patient": user.role == Role.PATIENT,
            "language": current_language(),
        },
    )


def _sections(current: CurrentSafetyPlan) -> list[dict[str, Any]]:
    return [
        {"code": code, "title": title, "prompt": prompt, "entries": current.sections[code]}
        for code, (title, prompt) in SECTION_TEXT.items()
    ]


@login_required
@require_GET
def safety_plan_print(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The plan to print and keep, in the patient's preferred language (``?lang=`` to choose
    another). No navigation; the patient's given name is on it: it is their document."""
    current = _current_or_404(request, patient_id, "safety_plan.printed")
    asked = request.GET.get("lang", "")
    preferred = current.record.patient.preferred_language
    language = asked if asked in _LANGUAGES else preferred if preferred in _LANGUAGES else "en"
    with translation.override(language):
        response = render(
            request,
            "web/safety_plan/print.html",
            {
                "current": current,
                "patient": current.record.patient,
                "sections": _sections(current),
                "language": language,
                "other_language": next((c for c in sorted(_LANGUAGES) if c != language), None),
            },
        )
    response["Content-Language"] = language
    return response
