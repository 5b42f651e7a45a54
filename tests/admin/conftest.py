from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

PLAINTEXT_RE = re.compile(r"so_(?:live|test)_[0-9A-Za-z]{28}")


@pytest.fixture
def moderator(django_user_model: type[User]) -> User:
    """A staff member in the ``Case moderators`` group the migration creates."""
    user = django_user_model.objects.create_user("moderator", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Case moderators"))
    return user


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
