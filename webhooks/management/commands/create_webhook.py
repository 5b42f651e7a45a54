from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tokens.models import Mode, Project
from webhooks.models import DEFAULT_EVENT_TYPES, EventType, Format
from webhooks.services import endpoint_create


class Command(BaseCommand):
    help = "Register a webhook endpoint for a project; prints its signing secret, the only time it is shown."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", required=True, help="project id (p_…)")
        parser.add_argument("--url", required=True, help="where to POST events, http(s)://…")
        parser.add_argument(
            "--event",
            action="append",
            dest="events",
            default=[],
            metavar="TYPE",
            help=(
                f"repeat for each event type, of {' '.join(EventType.values)}; default: {' '.join(DEFAULT_EVENT_TYPES)}"
            ),
        )
        parser.add_argument(
            "--format",
            choices=Format.values,
            help="standard (Standard Webhooks, signed JSON) or discord (one embed per event); "
            "default: discord for https://discord.com/api/webhooks/… URLs, standard otherwise",
        )
        parser.add_argument("--test", action="store_true", help="receive test-mode changes instead of live ones")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project = Project.objects.get(pk=options["project"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with id {options['project']!r}") from None
        try:
            endpoint, secret = endpoint_create(
                project=project,
                mode=Mode.TEST if options["test"] else Mode.LIVE,
                url=options["url"],
                events=options["events"],
                format=options["format"],
                created_by="manage.py create_webhook",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        facts = f"{endpoint.mode}, {endpoint.format}, {', '.join(endpoint.events)}"
        self.stderr.write(
            f"Created webhook {endpoint.pk} ({facts}) for {project} → {endpoint.url}. "
            "Store the signing secret now: it cannot be shown again."
        )
        self.stdout.write(secret)
