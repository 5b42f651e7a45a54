from typing import Any

from django import forms
from django_filters import fields
from django_filters import rest_framework as filters

from .models import Case, Status

STATUS_ERROR = f"must be one of {', '.join(Status.values)}"


class SentChoiceField(fields.ChoiceField):
    """Absent means "no filter"; sent, even empty (``?status=``), it must be one of the choices."""

    def clean(self, value: Any) -> Any:
        # The widget gives None for an absent parameter and "" for an empty one.
        if value == "":
            raise forms.ValidationError(STATUS_ERROR, code="invalid_choice")
        return super().clean(value)


class SentChoiceFilter(filters.ChoiceFilter):
    field_class = SentChoiceField


class CaseFilter(filters.FilterSet):
    status = SentChoiceFilter(choices=Status.choices, error_messages={"invalid_choice": STATUS_ERROR})

    class Meta:
        model = Case
        fields = ["status"]
