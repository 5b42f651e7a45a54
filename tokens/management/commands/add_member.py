from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from serverops.exceptions import DomainError
from tokens.models import Organisation, Role
from tokens.services import member_add


class Command(BaseCommand):
    help = (
        "Make the person with EMAIL a member of the organisation ORG_NAME with ROLE (owner included: "
        "the way to bootstrap an organisation); prints the member id. A new account gets no password and "
        "no email: set one with `manage.py changepassword EMAIL`, or let them use the admin's reset link."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--org", required=True, help="the organisation's name (it must exist)")
        parser.add_argument("--email", required=True, help="the person's email; an account is made when new")
        parser.add_argument("--role", required=True, choices=Role.values, help="viewer, moderator, admin or owner")

    def handle(self, *args: Any, org: str, email: str, role: str, **options: Any) -> None:
        organisation = Organisation.objects.filter(name=org).first()
        if organisation is None:
            raise CommandError(f"no organisation named {org!r}; create it with create_project")
        try:
            member, new_user = member_add(organisation=organisation, email=email, role=role)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if new_user is not None:
            self.stderr.write(
                f"Created staff account {new_user.get_username()!r} without a password; "
                f"set one with: manage.py changepassword {new_user.get_username()}"
            )
        self.stderr.write(f"{email} is now {role} of {organisation.name!r}.")
        self.stdout.write(member.pk)
