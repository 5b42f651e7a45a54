from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webhooks.models import MessageStatus, WebhookEndpoint
from webhooks.services import endpoint_delete


class Command(BaseCommand):
    help = "Delete a webhook endpoint and its undelivered messages; prints its id."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("webhook_id", help="endpoint id (wh_…), as list_webhooks shows it")

    def handle(self, *args: Any, webhook_id: str, **options: Any) -> None:
        try:
            endpoint = WebhookEndpoint.objects.get(pk=webhook_id)
        except WebhookEndpoint.DoesNotExist:
            raise CommandError(f"no webhook endpoint with id {webhook_id!r}") from None
        dropped = endpoint.messages.filter(status=MessageStatus.PENDING).count()
        endpoint_delete(endpoint=endpoint)
        self.stderr.write(f"Deleted webhook {webhook_id} ({endpoint.url}); {dropped} pending message(s) dropped.")
        self.stdout.write(webhook_id)
