from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from cases.signals import case_events_recorded
        from players.signals import player_erased

        from .services import messages_create_for_events, messages_forget_players

        case_events_recorded.connect(messages_create_for_events, dispatch_uid="webhooks.messages_create_for_events")
        player_erased.connect(messages_forget_players, dispatch_uid="webhooks.messages_forget_players")
