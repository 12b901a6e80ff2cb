from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stepwell.apps.network.models import Site
from stepwell.domain.instruments.model import NA, Instrument, Item
from stepwell.domain.instruments.scoring import Answer


class PatientFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), required=False)
    step = forms.TypedChoiceField(
        label=_("Step"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any step"))] + [(str(s), str(s)) for s in (1, 2, 3, 4)],
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(  # type: ignore[attr-defined]
            memberships__user_id=user.pk
        ).order_by("name")
        self.fields["site"].empty_label = _("All my sites")  # type: ignore[attr-defined]


class BreakGlassForm(forms.Form):
    record_number = forms.CharField(label=_("Record number"), max_length=16)
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why you need this record now. Other administrators will see it."),
    )


def _item_field(name: str) -> str:
    return f"item_{name}"


class AssessmentForm(forms.Form):
    """One questionnaire, built from its instrument file, item texts in ``language``.

    Every item is optional here: how many may be left out is the instrument's rule, applied
    by the scoring service, which names the items at fault.
    """

    def __init__(
        self,
        *args: Any,
        instrument: Instrument,
        language: str,
        ask_when: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.language = language
        for item in instrument.items:
            if item.kind == "text":
                field: forms.Field = forms.CharField(
                    label=item.text[language],
                    required=False,
                    max_length=2000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )
            else:
                choices = [(str(o.value), o.label[language]) for o in item.options]
                if item.not_applicable:
                    choices.append((NA, item.not_applicable[language]))
                field = forms.ChoiceField(
                    label=item.text[language],
                    required=False,
                    choices=choices,
                    widget=forms.RadioSelect,
                )
            self.fields[_item_field(item.id)] = field
        if ask_when:
            self.fields["taken_at"] = forms.DateTimeField(
                label=_("When it was answered"),
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                help_text=_("Change this when you enter a paper questionnaire later."),
            )

    def item_fields(self) -> list[tuple[Item, forms.BoundField]]:
        return [(item, self[_item_field(item.id)]) for item in self.instrument.items]

    def answers(self) -> list[Answer]:
        """The answers in item order (precondition: ``is_valid()``): int, "na", text or None."""
        result: list[Answer] = []
        for item in self.instrument.items:
            raw = self.cleaned_data.get(_item_field(item.id)) or ""
            if item.kind == "text":
                result.append(raw.strip() or None)
            elif raw == "":
                result.append(None)
            else:
                result.append(NA if raw == NA else int(raw))
        return result

    def mark_items(self, item_ids: Sequence[str], message: str) -> None:
        for item_id in item_ids:
            name = _item_field(item_id)
            if name in self.fields:
                self.add_error(name, message)


FLAG_LABELS = {
    "not-improving": _("Not improving"),
    "review-due": _("Review due"),
    "contact-overdue": _("Contact overdue"),
    "safety-risk": _("Safety risk"),
    "disengaged": _("Disengaged"),
    "no-baseline": _("No baseline"),
}


class RegistryFilterForm(forms.Form):
    flag = forms.ChoiceField(
        label=_("Flag"),
        required=False,
        choices=[("", _("Any flag")), *list(FLAG_LABELS.items())],
    )
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), required=False)
    step = forms.TypedChoiceField(
        label=_("Step"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", _("Any step"))] + [(str(s), str(s)) for s in (1, 2, 3, 4)],
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("flags", _("Most flags first")),
            ("review", _("Next review")),
            ("weeks", _("Longest on step")),
            ("step", _("Highest step")),
            ("name", _("Name")),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(  # type: ignore[attr-defined]
            memberships__user_id=user.pk
        ).order_by("name")
        self.fields["site"].empty_label = _("All my sites")  # type: ignore[attr-defined]
