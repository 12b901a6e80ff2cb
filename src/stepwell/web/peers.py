"""Peer programme pages: the peer's own home (my patients, next contacts, log an encounter,
raise a concern) and the supervisor's page (peers, supervision, matching proposals to
approve, encounters to review). Access is decided by the services and selectors called."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from stepwell.apps.coordination.content import barrier_vocabulary
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.apps.patients.models import Channel
from stepwell.apps.peers import matching, selectors, services
from stepwell.apps.peers.content import peer_content
from stepwell.apps.peers.reasons import reasons_in_words
from stepwell.apps.peers.run_selectors import RunDetail, matching_run_detail
from stepwell.domain.records import FieldProblem
from stepwell.domain.safety.escalation import CONCERN_URGENCIES
from stepwell.web.views import current_language, current_user, report_problems

URGENCY_LABELS = {
    "urgent": gettext_lazy("Urgent: today, within the hour"),
    "soon": gettext_lazy("Soon: within a few hours"),
    "routine": gettext_lazy("Routine: today"),
}
# The services name the concern's fields as ``concern_raise`` does; the form as the encounter.
_FIELD_ALIASES = {"text": "concern", "urgency": "concern_urgency"}
LEAVE_WAITING = "none"


def _reason_texts(items: Iterable[Any], language: str) -> list[str]:
    return [r["text"] for r in reasons_in_words(items, language)]


# --- the peer's home and the encounter form --------------------------------------------------


@login_required
@require_GET
def peer_home(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    try:
        rows = selectors.peer_home(user=current_user(request), now=now)
    except NotFound:
        raise Http404 from None
    language = current_language()
    vocabulary = peer_content().vocabulary
    channels = dict(Channel.choices)
    today = timezone.localdate(now)
    return render(
        request,
        "web/peers/home.html",
        {
            "rows": [
                {
                    "p": r,
                    "language": vocabulary.text("languages", r.preferred_language, language),
                    "channel": channels.get(r.preferred_channel, r.preferred_channel),
                    "overdue": r.contact_overdue(today),
                }
                for r in rows
            ],
        },
    )


class EncounterForm(forms.Form):
    """One encounter on one phone screen. Choices and their labels come from the peer
    vocabulary and the barrier vocabulary; the service checks every value again."""

    client_uuid = forms.UUIDField(widget=forms.HiddenInput)
    modality = forms.ChoiceField(label=gettext_lazy("How"), widget=forms.RadioSelect)
    minutes = forms.IntegerField(
        label=gettext_lazy("Minutes"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "size": 4}),
    )
    topics = forms.MultipleChoiceField(
        label=gettext_lazy("What you talked about"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    mood_before = forms.TypedChoiceField(
        label=gettext_lazy("Mood before"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    mood_after = forms.TypedChoiceField(
        label=gettext_lazy("Mood after"),
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"),
        required=False,
        max_length=services.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    barriers = forms.MultipleChoiceField(
        label=gettext_lazy("Barriers the patient mentioned"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    concern = forms.CharField(
        label=gettext_lazy("A worry about their safety? (optional)"),
        help_text=gettext_lazy("It goes straight to the clinician on call."),
        required=False,
        max_length=services.CONCERN_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    concern_urgency = forms.ChoiceField(label=gettext_lazy("How urgent?"), initial="soon")
    next_contact_on = forms.DateField(
        label=gettext_lazy("Next contact"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    occurred_at = forms.DateTimeField(
        label=gettext_lazy("When (leave as is for now)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vocabulary = peer_content().vocabulary
        barriers = barrier_vocabulary()

        def terms(kind: str) -> list[tuple[str, str]]:
            return [(c, vocabulary.text(kind, c, language)) for c in vocabulary.codes(kind)]

        fields: Any = self.fields
        fields["modality"].choices = terms("encounter_modalities")
        fields["topics"].choices = terms("encounter_topics")
        moods = [
            (str(m.value), m.label.get(language) or m.label["en"]) for m in vocabulary.mood_scale
        ]
        fields["mood_before"].choices = moods
        fields["mood_after"].choices = moods
        fields["barriers"].choices = [
            (code, barriers.label("kinds", code, language)) for code in barriers.kinds
        ]
        fields["concern_urgency"].choices = [
            (code, URGENCY_LABELS.get(code, code)) for code in CONCERN_URGENCIES
        ]

    def encounter(self, now: datetime) -> services.EncounterInput:
        """The service's input (precondition: ``is_valid()``); a blank time means ``now``."""
        data = self.cleaned_data
        return services.EncounterInput(
            occurred_at=data["occurred_at"] or now,
            modality=data["modality"],
            minutes=data["minutes"],
            topics=data["topics"],
            mood_before=data["mood_before"],
            mood_after=data["mood_after"],
            note=data["note"],
            barriers=data["barriers"],
            concern=data["concern"],
            concern_urgency=data["concern_urgency"],
            next_contact_on=data["next_contact_on"],
            client_uuid=data["client_uuid"],
        )

    def add_problems(self, exc: InvalidInput) -> None:
        """Each problem next to its field (on top of the form when it names none here)."""
        for problem in exc.problems:
            field = _FIELD_ALIASES.get(problem.field, problem.field)
            self.add_error(field if field in self.fields else None, problem.message)


def _recorded_message(recorded: services.EncounterRecorded, language: str) -> list[str]:
    if not recorded.created:
        return [_("This encounter was already recorded; it was not saved twice.")]
    lines = [_("Encounter recorded.")]
    kinds = recorded.encounter.barriers
    if kinds:
        vocabulary = barrier_vocabulary()
        lines.append(
            _("Passed to the care coordinator: %(barriers)s.")
            % {"barriers": ", ".join(vocabulary.label("kinds", k, language) for k in kinds)}
        )
    if recorded.safety_event_id is not None:
        lines.append(
            _("Your concern was sent to the clinician on call: the care team has been alerted.")
        )
    return lines


@login_required
@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = current_user(request)
    language = current_language()
    now = timezone.now()
    if request.method == "POST":
        form = EncounterForm(request.POST, language=language)
        if form.is_valid():
            try:
                recorded = services.peer_encounter_record(
                    actor=user, patient_id=patient_id, encounter=form.encounter(now), now=now
                )
            except NotFound:
                raise Http404 from None
            except Forbidden:
                raise PermissionDenied from None
            except InvalidInput as exc:
                form.add_problems(exc)
            else:
                for line in _recorded_message(recorded, language):
                    messages.success(request, line)
                return redirect("peer-home")
    else:
        form = EncounterForm(
            initial={
                # Made here, sent back with the form: a second send of the same form is the
                # same encounter (``peer_encounter_record`` records it once).
                "client_uuid": uuid4(),
                "occurred_at": timezone.localtime(now).replace(second=0, microsecond=0),
            },
            language=language,
        )
    try:
        patient = selectors.peer_patient(user=user, patient_id=patient_id, now=now)
    except NotFound:
        raise Http404 from None
    return render(
        request,
        "web/peers/encounter.html",
        {"form": form, "patient": patient},
    )


# --- the supervisor's page ---------------------------------------------------------------------


def _peer_rows(overview: list[selectors.PeerOverview], language: str) -> list[dict[str, Any]]:
    content = peer_content()
    sentences = content.programme.sentences
    return [
        {
            "p": p,
            "state": sentences.label("states", p.state, language),
            "lacking": [sentences.label("modules", m, language) for m in p.lacking],
            "overdue": p.supervision_overdue,
            "ineligible": _reason_texts(p.ineligible, language),
        }
        for p in overview
    ]


def _run_context(
    detail: RunDetail, peers: list[selectors.PeerOverview], language: str
) -> dict[str, Any]:
    run = detail.run
    eligible = [(p.peer_id, p.display_name) for p in peers if not p.ineligible]
    return {
        "run": run,
        "pairs": [
            {
                "proposal": p,
                "record_number": p.patient.record_number,
                "peer_name": detail.peer_names.get(p.peer_id, ""),
                "reasons": _reason_texts(p.reasons, language),
                # The proposed peer first, then every other peer eligible for a new match.
                "choices": [(p.peer_id, detail.peer_names.get(p.peer_id, ""))]
                + [c for c in eligible if c[0] != p.peer_id],
            }
            for p in detail.proposals
        ],
        "unmatched": [
            {
                "record_number": detail.record_numbers.get(pid, ""),
                "reasons": _reason_texts(reasons, language),
            }
            for pid, reasons in detail.unmatched
        ],
        "excluded": [
            {
                "peer_name": detail.peer_names.get(pid, ""),
                "reasons": _reason_texts(reasons, language),
            }
            for pid, reasons in detail.excluded
        ],
    }


def _review_rows(rows: list[selectors.EncounterToReview], language: str) -> list[dict[str, Any]]:
    vocabulary = peer_content().vocabulary
    barriers = barrier_vocabulary()
    moods = {m.value: m.label.get(language) or m.label["en"] for m in vocabulary.mood_scale}
    return [
        {
            "e": e,
            "modality": vocabulary.text("encounter_modalities", e.modality, language),
            "topics": [vocabulary.text("encounter_topics", t, language) for t in e.topics],
            "barriers": [barriers.label("kinds", b, language) for b in e.barriers],
            "mood_before": moods.get(e.mood_before or 0, ""),
            "mood_after": moods.get(e.mood_after or 0, ""),
        }
        for e in rows
    ]


@login_required
@require_GET
def supervision(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    now = timezone.now()
    language = current_language()
    try:
        peers = selectors.peers_overview(user=user, now=now)
        run_id = selectors.matching_run_latest(user=user)
        detail = matching_run_detail(user=user, run_id=run_id, now=now) if run_id else None
    except NotFound:
        raise Http404 from None
    try:
        reviews: list[selectors.EncounterToReview] | None = selectors.encounters_to_review(
            supervisor=user, now=now
        )
    except NotFound:  # programme staff who do not supervise (coordinators, admins)
        reviews = None
    vocabulary = peer_content().vocabulary
    context: dict[str, Any] = {
        "peers": _peer_rows(peers, language),
        "may_run": user.role in selectors.PROGRAMME_STAFF,
        "may_approve": user.role in matching.APPROVE_ROLES,
        "leave_waiting": LEAVE_WAITING,
        "reviews": None if reviews is None else _review_rows(reviews, language),
        "formats": [
            (c, vocabulary.text("supervision_formats", c, language))
            for c in vocabulary.codes("supervision_formats")
        ],
        "today": timezone.localdate(now),
    }
    if detail is not None:
        context |= _run_context(detail, peers, language)
    return render(request, "web/peers/supervision.html", context)


def _write(request: HttpRequest, write: Any, done: str) -> HttpResponse:
    """Run one service call from the supervisor's page and go back to it: problems become
    messages naming their field, an unknown run 404, a role that may not 403."""
    try:
        write()
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None
    except InvalidInput as exc:
        report_problems(request, exc)
    else:
        messages.success(request, done)
    return redirect("peer-supervision")


@login_required
@require_POST
def run_create(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return _write(
        request,
        lambda: matching.matching_run_create(actor=user, now=timezone.now()),
        _("Matching run finished: review the proposal below before approving it."),
    )


def _changes(post: Any) -> dict[int, int | None]:
    """Pairs the supervisor changed: ``peer-<patient>`` differs from ``was-<patient>``
    (another peer's id, or LEAVE_WAITING)."""
    changes: dict[int, int | None] = {}
    for key, value in post.items():
        if not key.startswith("peer-") or not key[5:].isdigit():
            continue
        patient_id = int(key[5:])
        if value == post.get(f"was-{patient_id}"):
            continue
        if value == LEAVE_WAITING:
            changes[patient_id] = None
        elif value.isdigit():
            changes[patient_id] = int(value)
    return changes


@login_required
@require_POST
def run_approve(request: HttpRequest, run_id: int) -> HttpResponse:
    user = current_user(request)
    changes = _changes(request.POST)
    return _write(
        request,
        lambda: matching.matching_run_approve(
            actor=user, run_id=run_id, now=timezone.now(), changes=changes
        ),
        _("Proposal approved: the peers can now see their new patients."),
    )


@login_required
@require_POST
def supervision_record(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    post = request.POST

    def ids(name: str) -> list[int]:
        return [int(x) for x in post.getlist(name) if x.isdigit()]

    def record() -> object:
        try:
            held_on = forms.DateField().clean(post.get("held_on", ""))
            minutes = int(post.get("minutes", ""))
        except (forms.ValidationError, ValueError):
            raise InvalidInput(
                [FieldProblem("held_on", _("Give the date and the minutes."))]
            ) from None
        return services.supervision_session_record(
            actor=user,
            format=post.get("format", ""),
            held_on=held_on,
            minutes=minutes,
            attendee_ids=ids("attendee_ids"),
            topics=post.get("topics", ""),
            actions=post.get("actions", ""),
            encounter_ids=ids("encounter_ids"),
            now=timezone.now(),
        )

    return _write(request, record, _("Supervision session recorded."))
