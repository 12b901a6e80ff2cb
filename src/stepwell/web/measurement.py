"""Measurement pages: a questionnaire for any instrument, and a progress chart per instrument.

One questionnaire page serves the patient (portal, mobile-first) and the clinician or CHW
(who asks the questions in the patient's language and may back-date a paper form).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.measurement.models import Assessment, CaptureMode
from stepwell.apps.measurement.registry import instrument as find_instrument
from stepwell.apps.measurement.registry import instruments
from stepwell.apps.measurement.selectors import patient_progress
from stepwell.apps.measurement.services import assessment_record
from stepwell.apps.patients.selectors import patient_detail
from stepwell.domain.access.policy import Role, View, policy_for
from stepwell.domain.instruments.chart import ChartPoint, progress_chart
from stepwell.domain.instruments.model import Instrument
from stepwell.domain.instruments.scoring import AnswerError, reliable_change
from stepwell.web.forms import AssessmentForm
from stepwell.web.views import current_language, current_user

_MODE_FOR_ROLE = {
    Role.PATIENT: CaptureMode.PORTAL,
    Role.CHW: CaptureMode.CHW,
    Role.CLINICIAN: CaptureMode.CLINICIAN,
}
_LANGUAGES = {code for code, _name in settings.LANGUAGES}


def _instrument_or_404(code: str) -> Instrument:
    found = find_instrument(code)
    if found is None:
        raise Http404
    return found


def _form_language(request: HttpRequest, role: str, patient_language: str) -> str:
    """Item texts: ``?lang=`` if given; else the patient's own interface language for a
    patient, or the patient's preferred language for a clinician or CHW reading aloud."""
    asked = request.GET.get("lang", "")
    if asked in _LANGUAGES:
        return asked
    if role == Role.PATIENT:
        return current_language()
    return patient_language if patient_language in _LANGUAGES else "en"


def _explain(form: AssessmentForm, exc: InvalidInput) -> None:
    cause = exc.__cause__
    if isinstance(cause, AnswerError) and cause.missing:
        max_missing = form.instrument.max_missing
        form.mark_items(cause.items, _("Please answer this question."))
        form.add_error(
            None,
            ngettext(
                "Too many questions were left unanswered: at most %(n)d may be left out.",
                "Too many questions were left unanswered: at most %(n)d may be left out.",
                max_missing,
            )
            % {"n": max_missing}
            if max_missing
            else _("Please answer every question."),
        )
        return
    for problem in exc.problems:
        form.add_error(problem.field if problem.field in form.fields else None, problem.message)


@login_required
@require_http_methods(["GET", "POST"])
def assessment_new(request: HttpRequest, patient_id: int, code: str) -> HttpResponse:
    user = current_user(request)
    policy = policy_for(user.role)
    if not policy.may_record_assessments or policy.view is not View.FULL:
        raise Http404
    definition = _instrument_or_404(code)
    now = timezone.now()
    try:
        record = patient_detail(
            user=user, patient_id=patient_id, now=now, with_episodes=False, action="assessment.form"
        )
    except NotFound:
        raise Http404 from None
    patient = record.patient
    language = _form_language(request, user.role, patient.preferred_language)
    ask_when = user.role != Role.PATIENT
    form = AssessmentForm(
        request.POST or None,
        instrument=definition,
        language=language,
        ask_when=ask_when,
        initial={"taken_at": timezone.localtime(now).strftime("%Y-%m-%dT%H:%M")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            assessment = assessment_record(
                actor=user,
                patient_id=patient.pk,
                instrument_code=definition.code,
                answers=form.answers(),
                taken_at=form.cleaned_data["taken_at"] if ask_when else now,
                mode=_MODE_FOR_ROLE[Role(user.role)],
                now=now,
            )
        except InvalidInput as exc:
            _explain(form, exc)
        except (NotFound, Forbidden):
            raise Http404 from None
        else:
            _saved_message(request, definition, assessment, is_patient=user.role == Role.PATIENT)
            return redirect("progress-chart", patient_id=patient.pk, code=definition.code)
    return render(
        request,
        "web/measurement/questionnaire.html",
        {
            "record": record,
            "instrument": definition,
            "form": form,
            "language": language,
            "name": definition.name[language],
            "recall_period": definition.recall_period[language],
            "is_patient": user.role == Role.PATIENT,
            "other_language": next((c for c in sorted(_LANGUAGES) if c != language), None),
        },
    )


def _saved_message(
    request: HttpRequest, definition: Instrument, assessment: Assessment, *, is_patient: bool
) -> None:
    band = next((b for b in definition.bands if b.code == assessment.band), None)
    language = current_language()
    label = band.label.get(language, band.label["en"]) if band else assessment.band
    if is_patient:
        messages.success(request, _("Thank you. Your answers are saved."))
    else:
        messages.success(
            request,
            _("Saved: %(instrument)s total %(total)d (%(band)s).")
            % {"instrument": definition.code, "total": assessment.total, "band": label},
        )
    if assessment.safety:
        if is_patient:
            messages.warning(
                request,
                _(
                    "You told us about thoughts of being better off dead or of hurting "
                    "yourself. Please talk to your care team about it. If you might act on "
                    "these thoughts now, call your local emergency number."
                ),
            )
        else:
            messages.warning(
                request,
                _("Safety item answered above zero (%(items)s): assess risk today.")
                % {"items": ", ".join(assessment.safety)},
            )


@login_required
@require_GET
def progress_chart_page(request: HttpRequest, patient_id: int, code: str) -> HttpResponse:
    user = current_user(request)
    definition = _instrument_or_404(code)
    try:
        record, assessments = patient_progress(
            user=user, patient_id=patient_id, now=timezone.now(), instrument=definition.code
        )
    except NotFound:
        raise Http404 from None
    language = current_language()
    points = [
        ChartPoint(a.taken_at, a.total, a.band, a.prorated, bool(a.safety)) for a in assessments
    ]
    return render(
        request,
        "web/measurement/progress.html",
        {
            "record": record,
            "instrument": definition,
            "name": definition.name[language],
            "chart": progress_chart(definition, points),
            "narrow_chart": progress_chart(definition, points, narrow=True),
            "rows": _rows(definition, assessments, language),
            "language": language,
            "may_record": policy_for(user.role).may_record_assessments,
            "instruments": sorted(instruments()),
        },
    )


def _rows(definition: Instrument, assessments: list[Assessment], language: str) -> list[Any]:
    """Table rows, newest first, each with its change since the previous assessment."""
    labels = {b.code: b.label[language] for b in definition.bands}
    change_labels = {
        "improved": _("reliable improvement"),
        "deteriorated": _("reliable deterioration"),
        "no-change": _("no reliable change"),
    }
    rows = []
    previous: Assessment | None = None
    for a in assessments:
        change = None
        if previous is not None:
            change = reliable_change(definition, previous.total, a.total)
        rows.append(
            {
                "assessment": a,
                "band_label": labels.get(a.band, a.band),
                "change": change,
                "change_label": change_labels.get(change or "", ""),
                "delta": None if previous is None else a.total - previous.total,
            }
        )
        previous = a
    return rows[::-1]
