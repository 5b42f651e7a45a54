from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"
    verbose_name = "Files"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, lookups  # noqa: F401  # registers the deploy check and JSONField's ``has_item`` lookup
