from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            assignees,  # noqa: F401  (its receiver unassigns a member who leaves)
            checks,  # noqa: F401  (registers the deploy checks)
            subjects,  # noqa: F401  (its receiver follows merges of players)
        )
