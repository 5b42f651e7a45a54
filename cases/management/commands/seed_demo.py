from typing import Any

from django.core.management.base import BaseCommand

from cases.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Fill the database with a demo community's cases (once) and print a fresh demo token, "
        "valid for a week; earlier demo tokens are revoked."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        self.stderr.write(
            f"Demo project {result.project.pk} ({result.project}); {result.cases_created} case(s) created. "
            f"New token {result.token.pk} ({result.token.hint}) with {' '.join(result.token.scopes)}, "
            f"valid until {result.token.expires_at:%Y-%m-%d %H:%M} UTC; earlier demo tokens are revoked. Shown once:"
        )
        self.stdout.write(result.plaintext)
