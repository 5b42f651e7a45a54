from typing import Any

from django.core.management.base import BaseCommand

from cases.demo import demo_members_refresh, demo_seed, demo_staff_refresh


class Command(BaseCommand):
    help = (
        "Fill the database with a demo community's cases (once) and print a fresh demo token, "
        "valid for a week; earlier demo tokens are revoked. --staff-login also creates the demo "
        "staff user (a superuser), the demo community's owner and a moderator (or gives them new random "
        "passwords) and prints each one's username and password, a line each."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--staff-login",
            action="store_true",
            help="also print demo admin logins (superuser, owner, moderator): username and a new password each",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed()
        self.stderr.write(
            f"Demo project {result.project.pk} ({result.project}); {result.cases_created} case(s) created. "
            f"New token {result.token.pk} ({result.token.hint}) with {' '.join(result.token.scopes)}, "
            f"valid until {result.token.expires_at:%Y-%m-%d %H:%M} UTC; earlier demo tokens are revoked. Shown once:"
        )
        self.stdout.write(result.plaintext)
        if options["staff_login"]:
            user, password = demo_staff_refresh()
            self.stderr.write(f"Demo staff user {user.get_username()} has a new password. Shown once:")
            self.stdout.write(f"{user.get_username()} {password}")
            for member, member_password in demo_members_refresh():
                self.stderr.write(f"Demo member {member.get_username()} has a new password. Shown once:")
                self.stdout.write(f"{member.get_username()} {member_password}")
