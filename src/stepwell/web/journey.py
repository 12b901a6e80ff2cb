"""Care-journey pages: referrals between sites (incoming and outgoing, with their actions),
the form to refer a patient, the patient's goals (a section of the record, with a 0 to 10
chart), and an episode's journey timeline (filtered by kind, printable).

Access is decided by the services and selectors called: a patient, goal, referral or episode
the user may not reach is a 404, like one that does not exist."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stepwell.apps.accounts.models import User
from stepwell.apps.coordination.content import coordination_rules
from stepwell.apps.coordination.models import REFERRAL_GRANTS_ACCESS, ReferralStatus, Urgency
from stepwell.apps.coordination.selectors import (
    GoalView,
    ReferralRow,
    patient_goals,
    referrals_for,
)
from stepwell.apps.coordination.services import (
    MAX_GOAL,
    MAX_NOTE,
    goal_create,
    goal_rate,
    referral_send,
    referral_update,
)
from stepwell.apps.coordination.timeline import KINDS, journey_timeline
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.network.models import Site
from stepwell.apps.patients.models import EpisodeStatus
from stepwell.apps.patients.selectors import PatientRecord, patient_detail
from stepwell.domain.access.policy import Role, View
from stepwell.domain.coordination import referrals as referral_rules
from stepwell.domain.coordination.goal_chart import GoalChart, goal_chart
from stepwell.domain.records import FieldProblem
from stepwell.web.views import current_language, current_user, report_problems

# Who refers and moves referrals on (as referral_send / referral_update check again).
REFERRAL_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR})
# Who sets and rates goals (as goal_create / goal_rate check again).
GOAL_ROLES = frozenset({Role.PATIENT, Role.COORDINATOR, Role.CHW, Role.CLINICIAN})
# What the receiving site may do to a referral; the sending site may only cancel it.
_RECEIVING = (
    ReferralStatus.ACCEPTED,
    ReferralStatus.SCHEDULED,
    ReferralStatus.SEEN,
    ReferralStatus.DECLINED,
)
ACTION_LABELS = {
    ReferralStatus.ACCEPTED: gettext_lazy("Accept"),
    ReferralStatus.SCHEDULED: gettext_lazy("Schedule"),
    ReferralStatus.SEEN: gettext_lazy("Mark seen"),
    ReferralStatus.DECLINED: gettext_lazy("Decline"),
    ReferralStatus.CANCELLED: gettext_lazy("Cancel referral"),
}
KIND_LABELS = {
    "referral": gettext_lazy("Referral"),
    "contact": gettext_lazy("First contact"),
    "assessment": gettext_lazy("Assessment"),
    "step": gettext_lazy("Step"),
    "appointment": gettext_lazy("Appointment"),
    "encounter": gettext_lazy("Peer support"),
    "barrier": gettext_lazy("Barrier"),
    "safety": gettext_lazy("Safety"),
    "discharge": gettext_lazy("Discharge"),
}
# Entries made from a date only (no time of day): shown without a time.
_DATE_ONLY_KINDS = frozenset({"contact", "discharge"})
_WHOLE_NUMBER = re.compile(r"-?\d{1,6}")


# --- referrals ---------------------------------------------------------------------------


def _receiving_zones(referral_ids: list[int]) -> dict[int, ZoneInfo]:
    """The local time zone of each referral's receiving site (by referral id): where a
    referral is scheduled and by whose clock its deadline is read."""
    rules = coordination_rules()
    pairs = Site.objects.filter(referrals_in__id__in=referral_ids).values_list(
        "referrals_in__id", "code"
    )
    return {rid: rules.local_for(code).zone for rid, code in pairs}


def _actions(row: ReferralRow, may_act: bool) -> list[tuple[str, str]]:
    """(status, button label) for what the user's side may do with the referral now."""
    if not may_act:
        return []
    side = _RECEIVING if row.incoming else (ReferralStatus.CANCELLED,)
    return [
        (status, str(ACTION_LABELS[ReferralStatus(status)]))
        for status in referral_rules.TRANSITIONS.get(row.status, ())
        if status in side
    ]


@dataclass(frozen=True, slots=True)
class ReferralItem:
    r: ReferralRow
    zone: ZoneInfo
    actions: list[tuple[str, str]]
    may_open: bool  # the record is reachable through this referral (or it is ours)

    @property
    def statuses(self) -> list[str]:
        return [status for status, _label in self.actions]


def _referral_items(rows: list[ReferralRow], may_act: bool) -> list[ReferralItem]:
    zones = _receiving_zones([r.id for r in rows])
    default = coordination_rules().default.zone
    return [
        ReferralItem(
            r,
            zones.get(r.id, default),
            _actions(r, may_act),
            not r.incoming or r.status in REFERRAL_GRANTS_ACCESS,
        )
        for r in rows
    ]


@login_required
@require_GET
def referral_list(request: HttpRequest) -> HttpResponse:
    """Referrals to and from the user's sites, deadline first; ``?closed=1`` adds the ones
    seen, declined or cancelled."""
    user = current_user(request)
    closed = request.GET.get("closed") == "1"
    try:
        rows = referrals_for(user=user, now=timezone.now(), open_only=not closed)
    except NotFound:
        raise Http404 from None
    items = _referral_items(rows, user.role in REFERRAL_ROLES)
    return render(
        request,
        "web/journey/referrals.html",
        {
            "incoming": [i for i in items if i.r.incoming],
            "outgoing": [i for i in items if not i.r.incoming],
            "closed": closed,
            "max_note": MAX_NOTE,
        },
    )


def local_moment(text: str, zone: ZoneInfo) -> tuple[datetime | None, FieldProblem | None]:
    """A ``datetime-local`` value read as wall-clock time in ``zone``: (aware datetime, None),
    (None, None) when blank, or (None, the problem). A time the clocks skip is refused; a
    time that happens twice is the first."""
    text = (text or "").strip()
    if not text:
        return None, None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None, FieldProblem(
            "scheduled_for", _("%(value)s is not a date and time") % {"value": text[:40]}
        )
    if value.tzinfo is not None:
        return value, None
    aware = value.replace(tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        return None, FieldProblem(
            "scheduled_for",
            _("%(value)s does not exist in %(zone)s (the clocks change then)")
            % {"value": text, "zone": zone.key},
        )
    return aware, None


@login_required
@require_POST
def referral_act(request: HttpRequest, referral_id: int) -> HttpResponse:
    """One step on a referral from the referrals page: accept, decline (with a note),
    schedule (local time at the receiving site), seen, or cancel (with a note)."""
    user = current_user(request)
    status = request.POST.get("status", "")
    scheduled_for, problem = None, None
    if status == ReferralStatus.SCHEDULED:  # the time matters only when scheduling
        zone = _receiving_zones([referral_id]).get(referral_id, coordination_rules().default.zone)
        scheduled_for, problem = local_moment(request.POST.get("scheduled_for", ""), zone)
    try:
        if problem is not None:
            raise InvalidInput([problem])
        referral = referral_update(
            actor=user,
            referral_id=referral_id,
            status=status,
            note=request.POST.get("note", ""),
            scheduled_for=scheduled_for,
            now=timezone.now(),
        )
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except InvalidInput as exc:
        report_problems(request, exc)
    else:
        messages.success(
            request,
            _("Referral %(id)d: %(status)s.")
            % {"id": referral.pk, "status": referral.get_status_display()},
        )
    return redirect("referrals")


class ReferralForm(forms.Form):
    """Refer a patient to another site; the service checks every value again."""

    to_site = forms.ModelChoiceField(
        label=gettext_lazy("Refer to"), queryset=Site.objects.none(), empty_label=None
    )
    urgency = forms.ChoiceField(
        label=gettext_lazy("Urgency"), choices=Urgency.choices, initial=Urgency.ROUTINE
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("What the receiving site needs to know to decide."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        sites: Any = self.fields["to_site"]
        sites.queryset = Site.objects.filter(active=True).order_by("name")

    def add_problems(self, exc: InvalidInput) -> None:
        for p in exc.problems:
            self.add_error(p.field if p.field in self.fields else None, f"{p.field}: {p.message}")


@login_required
@require_http_methods(["GET", "POST"])
def referral_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    if user.role not in REFERRAL_ROLES:
        raise Http404
    now = timezone.now()
    form = ReferralForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            referral = referral_send(
                actor=user,
                patient_id=patient_id,
                to_site_id=form.cleaned_data["to_site"].pk,
                urgency=form.cleaned_data["urgency"],
                reason=form.cleaned_data["reason"],
                now=now,
            )
        except (NotFound, Forbidden):
            raise Http404 from None
        except InvalidInput as exc:
            form.add_problems(exc)
        else:
            messages.success(
                request,
                _("Referral sent to %(site)s.") % {"site": referral.to_site.name},
            )
            return redirect(reverse("patient-detail", args=[patient_id]) + "#journey")
    try:
        record = patient_detail(
            user=user, patient_id=patient_id, now=now, with_episodes=False, action="referral.form"
        )
    except NotFound:
        raise Http404 from None
    return render(request, "web/journey/referral_new.html", {"record": record, "form": form})


# --- goals -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoalItem:
    goal: GoalView
    latest: tuple[datetime, int] | None
    chart: GoalChart


@dataclass(frozen=True, slots=True)
class PatientSection:
    """What the record's goals/referrals/journey section shows."""

    patient_id: int
    goals: list[GoalItem]
    may_set_goals: bool
    referrals: list[ReferralItem] | None  # None: not for this role
    may_refer: bool
    journey_episode_id: int | None  # the open episode, else the latest; None: no link
    max_goal: int = MAX_GOAL


def patient_section(request: HttpRequest, record: PatientRecord) -> PatientSection | None:
    """The record's section for a full view (None otherwise), read through the selectors
    (audited there). Called by the ``patient_journey`` template tag, so the record's own
    view needs no change."""
    user = current_user(request)
    if record.view is not View.FULL:
        return None
    now = timezone.now()
    patient_id = record.patient.pk
    try:
        goals = patient_goals(user=user, patient_id=patient_id, now=now)
    except NotFound:
        return None
    team = user.role != Role.PATIENT
    referrals = _patient_referrals(user, patient_id, now) if team else None
    episodes = record.episodes
    episode = next((e for e in episodes if e.status != EpisodeStatus.DISCHARGED), None)
    if episode is None and episodes:
        episode = max(episodes, key=lambda e: (e.referral_date, e.pk))
    return PatientSection(
        patient_id=patient_id,
        goals=[
            GoalItem(g, g.ratings[-1] if g.ratings else None, goal_chart(g.ratings)) for g in goals
        ],
        may_set_goals=user.role in GOAL_ROLES,
        referrals=referrals,
        may_refer=user.role in REFERRAL_ROLES,
        journey_episode_id=episode.pk if team and episode is not None else None,
    )


def _patient_referrals(user: User, patient_id: int, now: datetime) -> list[ReferralItem] | None:
    try:
        rows = referrals_for(user=user, now=now, open_only=False, patient_id=patient_id, limit=50)
    except NotFound:
        return None
    return _referral_items(rows, may_act=False)


def _back_to_record(patient_id: int | str | None) -> HttpResponse:
    if isinstance(patient_id, int) or (isinstance(patient_id, str) and patient_id.isdigit()):
        return redirect(reverse("patient-detail", args=[int(patient_id)]) + "#goals")
    return redirect("home")


@login_required
@require_POST
def goal_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    try:
        goal_create(
            actor=current_user(request),
            patient_id=patient_id,
            text=request.POST.get("text", ""),
            now=timezone.now(),
        )
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except InvalidInput as exc:
        report_problems(request, exc)
    else:
        messages.success(request, _("Goal added."))
    return _back_to_record(patient_id)


@login_required
@require_POST
def goal_rating_new(request: HttpRequest, goal_id: int) -> HttpResponse:
    """Rate a goal 0 to 10. Anything but a whole number goes to the service as typed, so the
    problem names the rating."""
    typed = request.POST.get("rating", "").strip()
    rating: object = int(typed) if _WHOLE_NUMBER.fullmatch(typed) else typed
    try:
        row = goal_rate(
            actor=current_user(request), goal_id=goal_id, rating=rating, now=timezone.now()
        )
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except InvalidInput as exc:
        report_problems(request, exc)
        # The form carries the record to go back to (a number; the record checks access).
        return _back_to_record(request.POST.get("patient_id"))
    messages.success(request, _("Rating %(rating)d recorded.") % {"rating": row.rating})
    return _back_to_record(row.goal.patient_id)


# --- the journey timeline ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryItem:
    at: datetime
    kind: str
    kind_label: str
    title: str
    detail: str
    date_only: bool


@login_required
@require_GET
def journey_page(request: HttpRequest, episode_id: int) -> HttpResponse:
    """The episode's journey, oldest first, in the region's local time; ``?kind=`` (repeated)
    keeps only those kinds; an unknown kind is a 400 naming it."""
    asked = request.GET.getlist("kind")
    unknown = [k for k in asked if k not in KINDS]
    if unknown:
        return render(
            request,
            "web/journey/bad_filter.html",
            {"unknown": unknown, "kinds": KINDS},
            status=400,
        )
    try:
        journey = journey_timeline(
            user=current_user(request),
            episode_id=episode_id,
            now=timezone.now(),
            language=current_language(),
            kinds=set(asked) or None,
        )
    except NotFound:
        raise Http404 from None
    zone = coordination_rules().default.zone
    entries = [
        EntryItem(
            e.at,
            e.kind,
            str(KIND_LABELS.get(e.kind, e.kind)),
            e.title,
            e.detail,
            e.kind in _DATE_ONLY_KINDS or e.ref_type == "episode",
        )
        for e in journey.entries
    ]
    return render(
        request,
        "web/journey/timeline.html",
        {
            "journey": journey,
            "entries": entries,
            "zone": zone,
            "filters": [(k, KIND_LABELS[k], k in journey.kinds) for k in KINDS],
            "filtered": bool(asked),
        },
    )
