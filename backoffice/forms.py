from __future__ import annotations

from django import forms
from rest_framework.exceptions import ValidationError as DRFValidationError

from common.money import CURRENCIES, parse_amount
from common.numbers import ascii_int
from users.models import User


class AdjustmentProposeForm(forms.Form):
    player = forms.CharField(help_text="Player id or username.")
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES])
    direction = forms.ChoiceField(choices=[("credit", "Credit (+)"), ("debit", "Debit (-)")])
    amount = forms.CharField(help_text="Decimal amount, e.g. 12.50.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)

    def clean_player(self):
        raw = self.cleaned_data["player"].strip()
        qs = User.objects.filter(is_staff=False)
        pk = ascii_int(raw)
        player = qs.filter(pk=pk).first() if pk is not None else qs.filter(username=raw).first()
        if player is None:
            raise forms.ValidationError("No such player.")
        return player

    def clean(self):
        cleaned = super().clean()
        if "amount" in cleaned and "currency" in cleaned:
            try:
                minor = parse_amount(cleaned["amount"], cleaned["currency"])
            except DRFValidationError as exc:
                self.add_error("amount", str(exc.detail.get("amount", exc.detail)
                                             if isinstance(exc.detail, dict) else exc.detail))
            else:
                cleaned["minor"] = -minor if cleaned.get("direction") == "debit" else minor
        return cleaned


class AuditExportForm(forms.Form):
    player = forms.CharField(required=False, help_text="Player id or username (empty: everyone).")
    since = forms.DateTimeField(required=False, help_text="From (inclusive), UTC.")
    until = forms.DateTimeField(required=False, help_text="To (exclusive), UTC.")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSON Lines")])
    reason = forms.CharField(required=False, max_length=2000,
                             help_text="Why this export is made (recorded).")

    def clean_player(self):
        raw = (self.cleaned_data.get("player") or "").strip()
        if not raw:
            return None
        pk = ascii_int(raw)
        player = (User.objects.filter(pk=pk).first() if pk is not None
                  else User.objects.filter(username=raw).first())
        if player is None:
            raise forms.ValidationError("No such player.")
        return player

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("player") and not (cleaned.get("since") or cleaned.get("until")):
            raise forms.ValidationError("Choose a player, a period, or both.")
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] >= cleaned["until"]:
            raise forms.ValidationError("The period is empty.")
        return cleaned


class PlayerNoteForm(forms.Form):
    body = forms.CharField(
        label="Add a note", max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What the player said, what you did, "
                                                               "ticket number. Notes cannot be edited."}),
    )
