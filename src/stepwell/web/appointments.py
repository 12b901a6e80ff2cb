"""Appointment pages of care coordination: booking one for a patient (with the travel from
their home to each site, and what to offer instead when it is too far) and recording what
happened at one. Access is decided by the selectors and services called."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.selectors import (
    Booking,
    appointment_booking,
    appointment_detail,
)
from stepwell.apps.coordination.services import appointment_attendance, appointment_book
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.domain.coordination.appointments import CANCELLED
from stepwell.web.coordination import add_problems
from stepwell.web.views import current_language, current_user

LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class BookingForm(forms.Form):
    """One appointment. Choices come from the booking selector and the access rules; the
    service checks every value again (a site for in-person, the time window, …)."""

    modality = forms.ChoiceField(label=gettext_lazy("How"))
    site = forms.TypedChoiceField(label=gettext_lazy("Site"), required=False, coerce=int)
    address = forms.CharField(
        label=gettext_lazy("Place (home visit or group)"), required=False, max_length=300
    )
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Date and time"),
        input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
    )
    minutes = forms.IntegerField(
        label=gettext_lazy("Minutes"),
        initial=45,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 5, "max": 480}),
    )
    staff = forms.TypedChoiceField(label=gettext_lazy("With"), required=False, coerce=int)
    barrier = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, booking: Booking, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["modality"].choices = [
            (code, m.label.get(language) or m.label["en"])
            for code, m in coordination_rules().modalities.items()
        ]
        fields["site"].choices = [("", _("No site (video, phone, home visit)"))] + [
            (str(s.site_id), _site_label(s.name, s.minutes, s.road_km)) for s in booking.sites
        ]
        fields["staff"].choices = [("", _("Not decided yet"))] + [
            (str(s.user_id), s.name) for s in booking.staff
        ]


def _site_label(name: str, minutes: int | None, road_km: float | None) -> str:
    if minutes is None or road_km is None:
        return name
    return _("%(site)s — %(minutes)s min, %(km)s km") % {
        "site": name,
        "minutes": minutes,
        "km": f"{road_km:.0f}",
    }


def _zone_for(booking: Booking, site: str | None) -> str:
    """The time zone a typed date and time is read in: the chosen site's, else the
    region's (``content/coordination/access.yaml``)."""
    codes = {s.site_id: s.code for s in booking.sites}
    return coordination_rules().local_for(codes.get(_int(site) or 0)).time_zone


def _booking_initial(booking: Booking) -> dict[str, Any]:
    advice = booking.advice
    near = booking.sites[0].site_id if booking.sites and not advice.over_limit else ""
    return {
        "modality": advice.suggested[0] if advice.over_limit else "in-person",
        "site": near,
        "minutes": 45,
        "barrier": booking.barrier.id if booking.barrier else None,
    }


def _travel_notice(booking: Booking, language: str) -> dict[str, Any] | None:
    """The notice shown when even the nearest site is too far, with what to offer."""
    advice = booking.advice
    if not advice.over_limit or not advice.options:
        return None
    modalities = coordination_rules().modalities
    labels = [
        (modalities[c].label.get(language) or modalities[c].label["en"]).lower()
        for c in advice.suggested
        if c in modalities
    ]
    options = (
        _("%(some)s or %(last)s") % {"some": ", ".join(labels[:-1]), "last": labels[-1]}
        if len(labels) > 1
        else "".join(labels)
    )
    return {"minutes": advice.options[0].minutes, "options": options, "codes": advice.suggested}


def _book(request: HttpRequest, form: BookingForm, patient_id: int) -> Any:
    data = form.cleaned_data
    return appointment_book(
        actor=current_user(request),
        patient_id=patient_id,
        modality=data["modality"],
        starts_at=data["starts_at"],
        now=timezone.now(),
        minutes=data["minutes"],
        site_id=data["site"] or None,
        address=data["address"],
        staff_id=data["staff"] or None,
        barrier_id=data["barrier"],
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Book an appointment for a patient; from a barrier's page, for that barrier."""
    language = current_language()
    source = request.POST if request.method == "POST" else request.GET
    try:
        booking = appointment_booking(
            user=current_user(request),
            patient_id=patient_id,
            now=timezone.now(),
            language=language,
            barrier_id=_int(source.get("barrier")),
        )
    except NotFound:
        raise Http404 from None
    zone = _zone_for(booking, request.POST.get("site"))
    # The typed time is wall-clock time where the appointment happens; the form reads it
    # (and shows it again) in that zone.
    with timezone.override(zone):
        form = BookingForm(
            request.POST or None,
            booking=booking,
            language=language,
            initial=_booking_initial(booking),
        )
        if request.method == "POST" and form.is_valid():
            try:
                appointment = _book(request, form, patient_id)
            except NotFound:
                raise Http404 from None
            except Forbidden:
                raise PermissionDenied from None
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                when = timezone.localtime(appointment.starts_at)
                messages.success(
                    request,
                    _("Appointment booked for %(when)s.")
                    % {"when": formats.date_format(when, "SHORT_DATETIME_FORMAT")},
                )
                if appointment.barrier_id:
                    return redirect("barrier-detail", barrier_id=appointment.barrier_id)
                return redirect("patient-detail", patient_id=patient_id)
        return render(
            request,
            "web/coordination/appointment_new.html",
            {
                "booking": booking,
                "form": form,
                "notice": _travel_notice(booking, language),
                "zone": zone,
            },
        )


class AttendanceForm(forms.Form):
    attendance = forms.ChoiceField(label=gettext_lazy("What happened"), widget=forms.RadioSelect)
    cancellation_reason = forms.ChoiceField(
        label=gettext_lazy("Why was it cancelled?"), required=False
    )

    def __init__(self, *args: Any, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rules = coordination_rules()
        fields: Any = self.fields
        fields["attendance"].choices = [
            (code, a.label.get(language) or a.label["en"]) for code, a in rules.attendance.items()
        ]
        fields["cancellation_reason"].choices = [("", _("Not given"))] + [
            (code, label.get(language) or label["en"])
            for code, label in rules.cancellation_reasons.items()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The reason list is hidden unless a cancellation is chosen; a reason picked before
        # switching to another answer is not part of what was meant.
        if data.get("attendance") not in CANCELLED:
            data["cancellation_reason"] = ""
        return data


@login_required
@require_http_methods(["GET", "POST"])
def attendance_page(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Record what happened at an appointment (or correct it)."""
    user = current_user(request)
    language = current_language()
    now = timezone.now()
    form = AttendanceForm(request.POST or None, language=language)
    if request.method == "POST" and form.is_valid():
        try:
            appointment = appointment_attendance(
                actor=user,
                appointment_id=appointment_id,
                attendance=form.cleaned_data["attendance"],
                cancellation_reason=form.cleaned_data["cancellation_reason"],
                now=now,
            )
        except NotFound:
            raise Http404 from None
        except Forbidden:
            raise PermissionDenied from None
        except InvalidInput as exc:
            add_problems(form, exc)
        else:
            label = coordination_rules().attendance[appointment.attendance].label
            messages.success(
                request,
                _("Attendance recorded: %(what)s.") % {"what": label.get(language) or label["en"]},
            )
            return redirect("patient-detail", patient_id=appointment.patient_id)
    try:
        detail = appointment_detail(
            user=user, appointment_id=appointment_id, now=now, language=language
        )
    except NotFound:
        raise Http404 from None
    if request.method != "POST":
        form.initial = {
            "attendance": detail.row.attendance,
            "cancellation_reason": detail.row.cancellation_reason,
        }
    return render(
        request,
        "web/coordination/attendance.html",
        {"d": detail, "a": detail.row, "form": form, "zone": detail.zone},
    )
