from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # Each change the apps below announce becomes an Event, in the change's own transaction.
        from cases.signals import case_events_recorded, case_note_added
        from media.signals import file_changed
        from players.signals import player_erased, players_merged

        from . import services

        case_events_recorded.connect(
            services.events_record_for_case_events, dispatch_uid="webhooks.events_record_for_case_events"
        )
        case_note_added.connect(services.events_record_for_note, dispatch_uid="webhooks.events_record_for_note")
        file_changed.connect(services.events_record_for_file, dispatch_uid="webhooks.events_record_for_file")
        players_merged.connect(services.events_record_for_merge, dispatch_uid="webhooks.events_record_for_merge")
        player_erased.connect(services.events_forget_players, dispatch_uid="webhooks.events_forget_players")

        from serverops.metrics import register_scrape_collector

        register_scrape_collector(services.backlog_metrics)
