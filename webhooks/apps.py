from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from cases.signals import case_events_recorded

        from .services import messages_create_for_events

        case_events_recorded.connect(messages_create_for_events, dispatch_uid="webhooks.messages_create_for_events")

        from serverops.metrics import register_scrape_collector

        from .services import backlog_metrics

        register_scrape_collector(backlog_metrics)
