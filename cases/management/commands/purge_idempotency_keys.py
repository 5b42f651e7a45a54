from typing import Any

from django.core.management.base import BaseCommand

from cases.idempotency import RETENTION, purge_expired


class Command(BaseCommand):
    help = f"Delete Idempotency-Key records older than {RETENTION}; prints how many were deleted."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_expired()
        self.stderr.write(f"Deleted {deleted} expired idempotency key(s).")
        self.stdout.write(str(deleted))
