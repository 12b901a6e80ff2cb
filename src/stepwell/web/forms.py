from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from stepwell.apps.network.models import Site


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
