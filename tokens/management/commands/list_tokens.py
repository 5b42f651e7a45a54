from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from serverops.fields import rfc3339
from tokens.models import Project, ScopedToken

COLUMNS = ("id", "name", "project", "mode", "scopes", "hint", "last used", "expires", "state")


def _when(value: datetime | None) -> str:
    return rfc3339(value) if value else "-"


class Command(BaseCommand):
    help = "List tokens (never their secrets): id, name, project, mode, scopes, hint, last used, expires, state."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", help="only this project's tokens (p_…)")

    def handle(self, *args: Any, project: str | None, **options: Any) -> None:
        tokens = ScopedToken.objects.select_related("project").order_by("project_id", "created_at")
        if project is not None:
            if not Project.objects.filter(pk=project).exists():
                raise CommandError(f"no project with id {project!r}")
            tokens = tokens.filter(project_id=project)
        now = timezone.now()
        rows = [COLUMNS] + [
            (
                t.pk,
                t.name,
                t.project_id,
                t.mode,
                ",".join(t.scopes),
                t.hint,
                _when(t.last_used_at),
                _when(t.expires_at),
                t.state(now),
            )
            for t in tokens
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        self.stderr.write(f"{len(rows) - 1} token(s).")
