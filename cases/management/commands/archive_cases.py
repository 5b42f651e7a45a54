from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cases.services import case_archive_closed
from serverops.durations import parse_duration


class Command(BaseCommand):
    help = "Archive closed cases not updated for a while; prints how many were (or would be) archived."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--closed-for", required=True, help="e.g. 30d: cases closed and untouched this long")
        parser.add_argument("--dry-run", action="store_true", help="count them, change nothing")

    def handle(self, *args: Any, closed_for: str, dry_run: bool, **options: Any) -> None:
        try:
            age = parse_duration(closed_for)
        except ValueError as exc:
            raise CommandError(f"--closed-for: {exc}") from None
        count = case_archive_closed(closed_for=age, dry_run=dry_run)
        verb = "would archive" if dry_run else "archived"
        self.stderr.write(f"{verb} {count} closed case(s) not updated for {closed_for}.")
        self.stdout.write(str(count))
