"""The Members page: added by email as the API invites, admins manage everyone but owners, owners
manage everyone, and an organisation keeps one owner (docs/operations.md#members-and-roles)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.factories import MemberFactory, OrganisationFactory, staff_member
from tokens.models import Member, Organisation, Role

pytestmark = pytest.mark.django_db

ADD = reverse("admin:tokens_member_add")


def page(member: Member) -> str:
    return reverse("admin:tokens_member_change", args=[member.pk])


@pytest.fixture
def organisation() -> Organisation:
    return OrganisationFactory(name="Night City RP")  # type: ignore[no-any-return]


def logged_in(client: Client, organisation: Organisation, role: Role) -> Member:
    user = staff_member(organisation, role, username=f"the-{role.value}")
    client.force_login(user)
    return Member.objects.get(user=user)


def test_an_admin_adds_a_member_by_email_and_the_new_account_is_emailed(client, organisation) -> None:
    logged_in(client, organisation, Role.ADMIN)

    r = client.post(ADD, {"organisation": organisation.pk, "email": "new@example.com", "role": "moderator"})

    assert r.status_code == 302, r.content
    member = Member.objects.get(user__email="new@example.com")
    assert (member.organisation, member.role, member.user.has_usable_password()) == (organisation, "moderator", False)
    [email] = mail.outbox
    assert "/admin/reset/" in email.body


def test_an_admin_cannot_make_or_change_an_owner(client, organisation) -> None:
    logged_in(client, organisation, Role.ADMIN)
    owner = MemberFactory(organisation=organisation, role=Role.OWNER)
    moderator = MemberFactory(organisation=organisation, role=Role.MODERATOR)

    made = client.post(ADD, {"organisation": organisation.pk, "email": "boss@example.com", "role": "owner"})
    promoted = client.post(page(moderator), {"role": "owner"})
    demoted = client.post(page(owner), {"role": "viewer"})

    assert made.status_code == 200 and "Only an owner" in made.content.decode()
    assert promoted.status_code == 200 and "Only an owner" in promoted.content.decode()
    assert demoted.status_code == 403
    assert not Member.objects.filter(user__email="boss@example.com").exists()
    assert Member.objects.get(pk=moderator.pk).role == "moderator" and Member.objects.get(pk=owner.pk).role == "owner"


def test_an_owner_makes_an_owner_and_the_last_owner_stays(client, organisation) -> None:
    me = logged_in(client, organisation, Role.OWNER)
    admin = MemberFactory(organisation=organisation, role=Role.ADMIN)

    assert client.post(page(me), {"role": "admin"}).status_code == 200  # the last owner: a form error
    assert Member.objects.get(pk=me.pk).role == "owner"
    assert client.post(reverse("admin:tokens_member_delete", args=[me.pk]), {"post": "yes"}).status_code == 403

    assert client.post(page(admin), {"role": "owner"}).status_code == 302
    assert client.post(page(me), {"role": "admin"}).status_code == 302
    assert {m.pk: m.role for m in Member.objects.all()} == {me.pk: "admin", admin.pk: "owner"}


def test_a_member_is_added_once_per_organisation(client, organisation) -> None:
    logged_in(client, organisation, Role.ADMIN)
    MemberFactory(organisation=organisation, user__email="twice@example.com")

    r = client.post(ADD, {"organisation": organisation.pk, "email": "TWICE@example.com", "role": "viewer"})

    assert r.status_code == 200 and "already a member" in r.content.decode()
    assert Member.objects.filter(user__email="twice@example.com").count() == 1
