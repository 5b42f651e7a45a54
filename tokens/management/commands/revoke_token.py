from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tokens.models import ScopedToken
from tokens.services import token_revoke


class Command(BaseCommand):
    help = "Revoke a token for good; prints its id."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("token_id", help="token id (tok_…), as list_tokens shows it")

    def handle(self, *args: Any, token_id: str, **options: Any) -> None:
        try:
            token = token_revoke(token=ScopedToken.objects.get(pk=token_id))
        except ScopedToken.DoesNotExist:
            raise CommandError(f"no token with id {token_id!r}") from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stderr.write(f"Revoked token {token.pk} ({token.name}, {token.hint}).")
        self.stdout.write(token.pk)
