from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from serverops.durations import parse_duration
from tokens.models import Mode, Project
from tokens.scopes import SCOPES
from tokens.services import token_create


class Command(BaseCommand):
    help = "Create a scoped API token for a project; prints the token, the only time it is ever shown."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", required=True, help="project id (p_…)")
        parser.add_argument("--name", required=True, help="what the token is for, e.g. 'EU-1 server'")
        parser.add_argument(
            "--scope",
            required=True,
            action="append",
            dest="scopes",
            metavar="SCOPE",
            help=f"repeat for each scope; one of: {' '.join(SCOPES)}",
        )
        parser.add_argument("--test", action="store_true", help="a test-mode token (so_test_…)")
        parser.add_argument("--expires-in", help="lifetime such as 90d, 12h, 30m or 45s; default: never")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            project = Project.objects.get(pk=options["project"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with id {options['project']!r}") from None
        expires_at = None
        if options["expires_in"] is not None:
            try:
                expires_at = timezone.now() + parse_duration(options["expires_in"])
            except ValueError as exc:
                raise CommandError(f"--expires-in: {exc}") from None
        try:
            token, plaintext = token_create(
                project=project,
                name=options["name"],
                scopes=options["scopes"],
                mode=Mode.TEST if options["test"] else Mode.LIVE,
                expires_at=expires_at,
                created_by="manage.py create_token",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(
            f"Created token {token.pk} ({token.hint}) for {project}. Store it now: it cannot be shown again."
        )
        self.stdout.write(plaintext)
