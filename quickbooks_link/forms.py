from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from quickbooks_link.models import EARLIEST_SYNC_FROM
from quickbooks_link.onboarding import NEW


class MappingForm(forms.Form):
    """One choice per app record: which QuickBooks object it maps to."""

    def __init__(
        self, *args, records, choices, initial_map, required=True, allow_new=False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        options = [("", "— Choose —" if required else "— None —"), *choices]
        if allow_new:
            options.append((NEW, "Create new in QuickBooks"))
        for record in records:
            self.fields[f"r{record.pk}"] = forms.ChoiceField(
                label=str(record),
                choices=options,
                required=required,
                initial=initial_map.get(record.pk, ""),
            )
        self.records = records

    def mapping(self) -> dict[int, str]:
        return {record.pk: self.cleaned_data.get(f"r{record.pk}", "") for record in self.records}

    def rows(self):
        return [(record, self[f"r{record.pk}"]) for record in self.records]


class ItemMappingForm(MappingForm):
    income_account = forms.ChoiceField(
        label="Income account for new items", required=False, choices=()
    )

    def __init__(self, *args, income_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["income_account"].choices = [("", "— Choose —"), *income_accounts]

    def clean(self):
        cleaned = super().clean()
        if NEW in self.mapping().values() and not cleaned.get("income_account"):
            self.add_error("income_account", "Choose the income account new items book sales to.")
        return cleaned


class SyncFromForm(forms.Form):
    sync_from = forms.DateField(
        label="Sync From date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Documents dated before this are never sent to QuickBooks.",
    )

    def clean_sync_from(self) -> datetime.date:
        value = self.cleaned_data["sync_from"]
        if value < EARLIEST_SYNC_FROM:
            raise forms.ValidationError("The Sync From date cannot be before 1 January 2018.")
        if value > timezone.localdate():
            raise forms.ValidationError("The Sync From date cannot be in the future.")
        return value
