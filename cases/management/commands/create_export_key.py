from typing import Any

from django.core.management.base import BaseCommand

from cases.export import decoded_key, new_signing_key, public_key_document


class Command(BaseCommand):
    help = (
        "Make a new Ed25519 key that signs case exports; prints the setting to store "
        "(EXPORT_SIGNING_KEY=…) alone on stdout, once. Keep it secret; its public half is served at /v1/export-key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        value = new_signing_key()
        kid = public_key_document(decoded_key(value, "the new key"))["kid"]
        self.stderr.write(
            f"New export key {kid}. Store the line below in the environment as it is, and keep it secret: "
            "bundles signed with it verify only while it is the installation's key."
        )
        self.stdout.write(f"EXPORT_SIGNING_KEY={value}")
