"""The filters of the runs list (`/builder/runs/`), a GET form that works without JavaScript."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from eventtree.models import EventTree, Form
from eventtree.selectors_runs import RunState


class TreeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: EventTree) -> str:
        return f"{obj.form.name} · {obj.name}"


# Days at the ends of the calendar would overflow once made moments in the time zone.
FIRST_DAY, LAST_DAY = dt.date(1000, 1, 1), dt.date(9998, 12, 31)


class RunFilterForm(forms.Form):
    # By slug, as a form's address is everywhere else (`?form=membership`).
    form = forms.ModelChoiceField(queryset=Form.objects.order_by("name", "id"), to_field_name="slug", required=False,
                                  empty_label="Any form")
    tree = TreeChoiceField(queryset=EventTree.objects.select_related("form").order_by("form__name", "name", "id"),
                           required=False, empty_label="Any tree")
    version = forms.IntegerField(min_value=1, max_value=2_147_483_647, required=False,
                                 widget=forms.NumberInput(attrs={"placeholder": "any", "size": 5}))
    state = forms.ChoiceField(choices=[("", "Any state"), *RunState.choices], required=False)
    date_from = forms.DateField(label="Started from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, f"Enter a day between {FIRST_DAY} and {LAST_DAY}.")
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The last day comes before the first.")
        return cleaned
