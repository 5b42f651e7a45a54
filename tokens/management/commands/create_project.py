from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tokens.services import project_create


class Command(BaseCommand):
    help = "Create a project (and its organisation if new); prints the project id."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="project name, unique within its organisation")
        parser.add_argument("--org", required=True, dest="org", help="organisation name; created when new")

    def handle(self, *args: Any, name: str, org: str, **options: Any) -> None:
        try:
            project = project_create(name=name, organisation_name=org)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Created project {project.name!r} in organisation {project.organisation.name!r}.")
        self.stdout.write(project.pk)
