"""Care-coordination pages: the barrier list and one barrier's page (its history, an action
to record, a link to book an appointment for it)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from stepwell.apps.coordination.content import barrier_vocabulary, coordination_rules
from stepwell.apps.coordination.models import BarrierStatus
from stepwell.apps.coordination.selectors import barrier_detail, barriers_open
from stepwell.apps.coordination.services import CARE_TEAM_ROLES, MAX_NOTE, barrier_act
from stepwell.apps.core.errors import Forbidden, InvalidInput, NotFound
from stepwell.web.views import current_language, current_user


@login_required
@require_GET
def barrier_list(request: HttpRequest) -> HttpResponse:
    """Open barriers of the patients the user sees, oldest first: the coordinator's list."""
    try:
        rows = barriers_open(
            user=current_user(request), now=timezone.now(), language=current_language()
        )
    except NotFound:
        raise Http404 from None
    return render(request, "web/coordination/barriers.html", {"rows": rows})


def add_problems(form: forms.Form, exc: InvalidInput) -> None:
    """Each problem of a refused write next to its field (above the form otherwise)."""
    for problem in exc.problems:
        form.add_error(problem.field if problem.field in form.fields else None, problem.message)


class BarrierActionForm(forms.Form):
    """What was done about a barrier. The service checks every value again."""

    action = forms.ChoiceField(label=gettext_lazy("Action taken"), required=False)
    status = forms.ChoiceField(label=gettext_lazy("Status after it"), choices=BarrierStatus.choices)
    note = forms.CharField(
        label=gettext_lazy("Note (optional)"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vocabulary = barrier_vocabulary()
        fields: Any = self.fields
        fields["action"].choices = [("", _("None: a status change or a note only"))] + [
            (code, vocabulary.label("actions", code, language)) for code in vocabulary.actions
        ]


@login_required
@require_http_methods(["GET", "POST"])
def barrier_page(request: HttpRequest, barrier_id: int) -> HttpResponse:
    """One barrier: what it is, what was done, and a form to record the next step."""
    user = current_user(request)
    language = current_language()
    now = timezone.now()
    form = BarrierActionForm(request.POST or None, language=language)
    if request.method == "POST" and form.is_valid():
        try:
            barrier_act(
                actor=user,
                barrier_id=barrier_id,
                action=form.cleaned_data["action"],
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                now=now,
            )
        except NotFound:
            raise Http404 from None
        except Forbidden:
            raise PermissionDenied from None
        except InvalidInput as exc:
            add_problems(form, exc)
        else:
            messages.success(request, _("Recorded on the barrier's history."))
            return redirect("barrier-detail", barrier_id=barrier_id)
    try:
        detail = barrier_detail(user=user, barrier_id=barrier_id, now=now, language=language)
    except NotFound:
        raise Http404 from None
    if request.method != "POST":
        form.initial = {"status": detail.barrier.status}
    return render(
        request,
        "web/coordination/barrier.html",
        {
            "d": detail,
            "b": detail.barrier,
            "form": form,
            "zone": coordination_rules().default.time_zone,
            "may_record_attendance": user.role in CARE_TEAM_ROLES,
        },
    )
