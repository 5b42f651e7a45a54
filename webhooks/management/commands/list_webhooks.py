from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from serverops.fields import rfc3339
from tokens.models import Project
from webhooks.models import MessageStatus, WebhookEndpoint

COLUMNS = ("id", "project", "mode", "events", "url", "pending", "failed", "created")


class Command(BaseCommand):
    help = "List webhook endpoints (never their secrets): id, project, mode, events, url, pending, failed, created."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", help="only this project's endpoints (p_…)")

    def handle(self, *args: Any, project: str | None, **options: Any) -> None:
        endpoints = WebhookEndpoint.objects.order_by("project_id", "created_at").annotate(
            pending=Count("messages", filter=Q(messages__status=MessageStatus.PENDING)),
            failed=Count("messages", filter=Q(messages__status=MessageStatus.FAILED)),
        )
        if project is not None:
            if not Project.objects.filter(pk=project).exists():
                raise CommandError(f"no project with id {project!r}")
            endpoints = endpoints.filter(project_id=project)
        rows = [COLUMNS] + [
            (
                e.pk,
                e.project_id,
                e.mode,
                ",".join(e.events),
                e.shown_url,
                str(e.pending),
                str(e.failed),
                rfc3339(e.created_at),
            )
            for e in endpoints
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        self.stderr.write(f"{len(rows) - 1} webhook endpoint(s).")
