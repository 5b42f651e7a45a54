"""factory_boy factories; tokens and cases are made through the same services as in production."""

from __future__ import annotations

from typing import Any

import factory

from cases.models import Case, Status
from cases.services import Actor, case_create
from tokens.models import Mode, Organisation, Project, ScopedToken
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
