from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models.signals import post_save
from django.test import Client

from tokens.models import Member, Organisation, Role

PLAINTEXT_RE = re.compile(r"so_(?:live|test)_[0-9A-Za-z]{28}")


@pytest.fixture
def moderator(django_user_model: type[User]) -> Iterator[User]:
    """A staff member as ``tokens.0003_staff_become_members`` leaves today's staff: a moderator
    of every organisation, here also of each one the test makes after this fixture."""
    user = django_user_model.objects.create_user("moderator", password="pw", is_staff=True)
    for organisation in Organisation.objects.all():
        Member.objects.create(organisation=organisation, user=user, role=Role.MODERATOR)

    def join(sender: Any, instance: Organisation, created: bool, **kwargs: Any) -> None:
        if created:
            Member.objects.create(organisation=instance, user=user, role=Role.MODERATOR)

    post_save.connect(join, sender=Organisation, weak=False, dispatch_uid="moderator-joins")
    yield user
    post_save.disconnect(sender=Organisation, dispatch_uid="moderator-joins")


@pytest.fixture
def moderator_client(moderator: User) -> Client:
    client = Client()
    client.force_login(moderator)
    return client


def untouched_form_data(response: Any) -> dict[str, Any]:
    """The POST body the admin page in ``response`` sends when saved as it is shown.

    Covers the main form, every inline form and the inline management forms; edit the
    returned dict to change what the test needs.
    """
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data: dict[str, Any] = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = value
    return data


def admin_errors(response: Any) -> dict[str, list[str]]:
    """The main form's errors of an admin page re-rendered after a refused save."""
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}
