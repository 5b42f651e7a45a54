from argparse import ArgumentParser
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from players.services import PlayerNotFound, player_erase


@dataclass(frozen=True)
class _Operator:
    """The actor the erasure is recorded with on the player."""

    type: str = "system"
    id: str = "erase_player"
    name: str = "erase_player"


class Command(BaseCommand):
    help = (
        "Erase a player's personal data for good (identifiers, names, the names cases gave it); "
        "the player stays, erased, so cases and their history keep their shape. Prints the player's id."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "player_id", help="the player's id (pl_…); a merged id erases the person it was merged into"
        )

    def handle(self, *args: Any, player_id: str, **options: Any) -> None:
        try:
            player = player_erase(player_id=player_id, actor=_Operator())
        except PlayerNotFound as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(player.pk)
        self.stderr.write(f"erased {player.pk}: its identifiers and names are gone; its cases and history stay.")
