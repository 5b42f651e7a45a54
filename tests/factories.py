"""factory_boy factories; tokens and cases are made through the same services as in production."""

from __future__ import annotations

import io
from typing import IO, Any

import factory

from cases.demo import screenshot_png
from cases.models import Attachment, Case, Status
from cases.services import Actor, attachment_create, case_create
from media.models import File
from media.services import file_create
from tokens.models import Member, Mode, Organisation, Project, Role, ScopedToken
from tokens.services import token_create


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Community {n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Server {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "auth.User"

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = ""
    last_name = ""
    is_staff = True


class MemberFactory(factory.django.DjangoModelFactory):
    """A staff user's membership; a moderator of a new organisation unless told otherwise."""

    class Meta:
        model = Member

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MODERATOR


class TokenFactory(factory.django.DjangoModelFactory):
    """``TokenFactory()`` returns the ScopedToken with its one-time plaintext as ``.plaintext``."""

    class Meta:
        model = ScopedToken

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"token {n}")
    mode = Mode.LIVE
    scopes = factory.LazyFunction(lambda: ["cases:read", "cases:write"])
    expires_at = None

    @classmethod
    def _create(cls, model_class: type[ScopedToken], *args: Any, **kwargs: Any) -> ScopedToken:
        token, plaintext = token_create(**kwargs)
        token.plaintext = plaintext  # type: ignore[attr-defined]
        return token


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    project = factory.SubFactory(ProjectFactory)
    mode = Mode.LIVE
    title = factory.Sequence(lambda n: f"Player report #{n}")
    description = "Reported from the in-game /report command."
    status = Status.OPEN

    @classmethod
    def _create(cls, model_class: type[Case], *args: Any, **kwargs: Any) -> Case:
        kwargs.setdefault("actor", Actor.system("tests"))
        return case_create(**kwargs)


def attach_file(
    *, case: Case, content: IO[bytes] | None = None, original_name: str = "evidence.png", **kwargs: Any
) -> Attachment:
    """Store a file in the case's project and mode and attach it, as the admin's upload does
    (``attachment_create``); a small real PNG unless ``content`` is given."""
    if content is None:
        content = io.BytesIO(screenshot_png(len(original_name)))
    kwargs.setdefault("actor", Actor.system("tests"))
    return attachment_create(case=case, content=content, original_name=original_name, **kwargs)


class FileFactory(factory.django.DjangoModelFactory):
    """A stored file (``media.services.file_create``): a small real PNG unless ``content`` is given."""

    class Meta:
        model = File

    project = factory.SubFactory(ProjectFactory)
    mode = Mode.LIVE
    original_name = factory.Sequence(lambda n: f"screenshot-{n}.png")

    @classmethod
    def _create(cls, model_class: type[File], *args: Any, **kwargs: Any) -> File:
        content = kwargs.pop("content", None)
        if content is None:
            content = io.BytesIO(screenshot_png(len(kwargs["original_name"])))
        elif isinstance(content, bytes):
            content = io.BytesIO(content)
        return file_create(content=content, **kwargs)
