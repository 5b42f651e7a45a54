from django_filters import rest_framework as filters

from .models import Case, Status


class CaseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=Status.choices,
        error_messages={"invalid_choice": f"must be one of {', '.join(Status.values)}"},
    )

    class Meta:
        model = Case
        fields = ["status"]
