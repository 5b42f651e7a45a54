from typing import Any

from django.core.management.base import BaseCommand

from cases.demo import demo_seed


class Command(BaseCommand):
    help = "Fill the database with a demo community's cases (once) and print a fresh demo token."

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        self.stderr.write(
            f"Demo project {result.project.pk} ({result.project}); {result.cases_created} case(s) created. "
            f"New token {result.token.pk} ({result.token.hint}) with cases:read and cases:write, shown once:"
        )
        self.stdout.write(result.plaintext)
