from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_send_test

ANSWER_SHOWN = 200


class Command(BaseCommand):
    help = (
        "Send a webhook.test event to an endpoint now, ahead of any backlog, signed like any other; "
        "prints the receiver's status and the first 200 bytes of its answer. Exits non-zero when "
        "the endpoint did not answer 2xx."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("webhook_id", help="endpoint id (wh_…), as list_webhooks shows it")

    def handle(self, *args: Any, webhook_id: str, **options: Any) -> None:
        try:
            endpoint = WebhookEndpoint.objects.get(pk=webhook_id)
        except WebhookEndpoint.DoesNotExist:
            raise CommandError(f"no webhook endpoint with id {webhook_id!r}") from None
        outcome = endpoint_send_test(endpoint=endpoint)
        answer = outcome.response.encode()[:ANSWER_SHOWN].decode("utf-8", "replace")
        self.stdout.write(f"status: {outcome.status_code if outcome.status_code is not None else '-'}")
        self.stdout.write(f"answer: {answer}")
        if not outcome.ok:
            raise CommandError(f"not delivered to {endpoint.shown_url}: {outcome.error or 'the answer was not 2xx'}")
