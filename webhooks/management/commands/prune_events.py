from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from serverops.conf import serverops_setting
from webhooks.services import events_prune


class Command(BaseCommand):
    help = (
        "Delete events (GET /v1/events and webhook deliveries) older than EVENT_RETENTION_DAYS "
        "(default 30); prints how many. Run it from cron daily; `make run`'s worker runs it hourly."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, help="keep this many days instead of EVENT_RETENTION_DAYS")

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        kept = serverops_setting("EVENT_RETENTION_DAYS") if days is None else days
        if kept < 1:
            raise CommandError(f"the retention must be at least 1 day, not {kept}")
        pruned = events_prune(older_than=timedelta(days=kept))
        self.stderr.write(f"Pruned {pruned} event(s) older than {kept} day(s).")
        self.stdout.write(str(pruned))
