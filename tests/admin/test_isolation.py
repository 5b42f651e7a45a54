"""Tenant isolation of the whole admin (docs/operations.md#members-and-roles): a walk over every
registered ModelAdmin, its inlines and every custom admin URL, for each role, as a member of
organisation A against organisation B's objects.

Nothing here names an admin page: the pages come from ``admin.site`` and each admin's
``get_urls()``, so a page added later is walked too, and an admin registered without
``OrganisationScoped`` fails the first test. Run with ``-s`` to see how much was walked.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, reverse
from django.utils import timezone

from cases.models import Case
from cases.services import Actor, case_create
from cases.subjects import clean_subjects
from media.models import File
from players.models import Player, PlayerIdentifier
from tests.factories import MemberFactory, OrganisationFactory, ProjectFactory, TokenFactory, attach_file, staff_member
from tokens.admin_access import OrganisationScoped
from tokens.models import Member, Organisation, Role
from webhooks.models import WebhookAttempt, WebhookMessage
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_networks_allowed")]

# Every name, title and text of organisation B's objects carries this word; no page a member of
# A is shown may hold it.
MARK = "bravo"
# The values a custom admin URL's parameters take, by name, for B's objects.
DEFAULT_VIEWS = ("changelist", "add", "change", "delete", "history")


@dataclass
class Tenant:
    organisation: Organisation
    objects: dict[type[Model], list[Model]] = field(default_factory=dict)
    url_values: dict[str, Any] = field(default_factory=dict)


def make_tenant(word: str) -> Tenant:
    """An organisation with one of everything the admin shows, each named with ``word``."""
    organisation = OrganisationFactory(name=f"Community {word}")
    project = ProjectFactory(organisation=organisation, name=f"Server {word}")
    token = TokenFactory(project=project, name=f"{word} bot", scopes=["cases:read"])
    endpoint, _ = endpoint_create(
        project=project, mode="live", url=f"http://127.0.0.1:9/{word}", events=["case.created"]
    )
    steam = f"steam:{76561197960287930 + len(word) + (1000 if word == MARK else 0)}"
    subjects = clean_subjects([{"identifiers": [steam], "name": f"{word}_player"}])
    case = case_create(
        project=project,
        mode="live",
        title=f"Report about {word}",
        description=f"{word} was seen cheating",
        subjects=subjects,
        actor=Actor.system("tests"),
    )
    attachment = attach_file(case=case, original_name=f"{word}-evidence.png", folder=f"{word}-folder")
    message = WebhookMessage.objects.get(endpoint=endpoint)
    attempt = WebhookAttempt.objects.create(
        message=message, number=1, worker=f"{word}-worker", started_at=timezone.now(), response=f"{word} reply"
    )
    player = Player.objects.get(case_subjects__case=case)
    owner = staff_member(organisation, Role.OWNER, username=f"{word}-owner")
    member = Member.objects.get(user=owner)
    tenant = Tenant(organisation)
    tenant.objects = {
        Organisation: [organisation],
        type(project): [project],
        type(token): [token],
        type(endpoint): [endpoint],
        WebhookMessage: [message],
        WebhookAttempt: [attempt],
        Case: [case],
        File: [attachment.file],
        type(attachment): [attachment],
        Player: [player],
        Member: [member],
    }
    tenant.url_values = {
        "file_id": attachment.file_id,
        "identifier_id": PlayerIdentifier.objects.get(player=player).pk,
    }
    return tenant


@pytest.fixture
def tenants() -> tuple[Tenant, Tenant]:
    return make_tenant("alpha"), make_tenant(MARK)


def registered() -> list[tuple[type[Model], admin.ModelAdmin[Any]]]:
    return list(admin.site._registry.items())


def organisation_path(model: type[Model]) -> str | None:
    model_admin = admin.site._registry.get(model)
    if model_admin is not None:
        return model_admin.organisation_path  # type: ignore[attr-defined, no-any-return]
    for parent in admin.site._registry.values():
        for inline in parent.inlines:
            if inline.model is model:
                return inline.organisation_path  # type: ignore[attr-defined, no-any-return]
    return None


def fingerprint(tenant: Tenant) -> dict[str, Any]:
    """Every row of the tenant's organisation in every model the admin shows, and every staff
    account and group (which belong to no organisation): what no request may change."""
    rows: dict[str, Any] = {}
    models = {model for model, _ in registered()} | {
        inline.model for _, model_admin in registered() for inline in model_admin.inlines
    }
    for model in sorted(models, key=lambda m: m._meta.label):
        path = organisation_path(model)
        if path is None:
            continue
        found = model._default_manager.filter(**{path: tenant.organisation.pk}).order_by("pk")
        rows[model._meta.label] = [sorted(row.items(), key=str) for row in found.values()]
    rows["users"] = list(User.objects.order_by("pk").values_list("pk", "username", "is_staff", "is_superuser"))
    rows["groups"] = list(Group.objects.order_by("pk").values_list("pk", "name"))
    rows["members"] = list(Member.objects.order_by("pk").values_list("pk", "role", "organisation_id", "user_id"))
    return rows


def test_every_registered_admin_and_inline_is_organisation_scoped() -> None:
    unscoped = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in registered()
        if not isinstance(model_admin, OrganisationScoped)
    ] + [
        f"{model._meta.label} inline {inline.__name__}"
        for model, model_admin in registered()
        for inline in model_admin.inlines
        if not issubclass(inline, OrganisationScoped)
    ]
    assert unscoped == []


def test_the_scope_check_sees_an_admin_without_the_mixin() -> None:
    class Bare(admin.ModelAdmin):  # type: ignore[type-arg]
        pass

    assert not isinstance(Bare(Case, admin.site), OrganisationScoped)
    assert not issubclass(InlineModelAdmin, OrganisationScoped)


def custom_patterns(model_admin: admin.ModelAdmin[Any]) -> list[URLPattern]:
    """The admin's own URLs beyond Django's five views (file views, thumbnails, unlinks, …)."""
    info = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}"
    defaults = {f"{info}_{view}" for view in DEFAULT_VIEWS}
    return [
        pattern
        for pattern in model_admin.get_urls()
        if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in defaults
    ]


class Walk:
    """Requests as one member of A, each counted, each answer checked for B's traces."""

    def __init__(self, client: Client, other: Tenant) -> None:
        self.client = client
        self.other = other
        self.pages: Counter[str] = Counter()
        # Public ids (c_…, tok_…); a number, an attachment's or an attempt's, could be anything on a page.
        ids = [str(obj.pk) for objs in other.objects.values() for obj in objs if not isinstance(obj.pk, int)]
        self.secrets = [*ids, MARK]

    def shows_nothing_of_b(self, response: Any, what: str, sent: tuple[Any, ...] = ()) -> None:
        if response.get("Content-Type", "").startswith(("image/", "application/octet")):
            return
        body = response.content.decode(errors="replace").lower()
        for value in sent:  # what the page echoes (the search box, the filter in the URL)
            body = body.replace(str(value).lower(), "")
        leaked = [secret for secret in self.secrets if secret.lower() in body]
        assert leaked == [], f"{what} shows {leaked}"

    def get(self, url: str, what: str, **params: Any) -> Any:
        self.pages[what] += 1
        r = self.client.get(url, params)
        assert r.status_code < 500, f"{what}: {r.status_code}"
        self.shows_nothing_of_b(r, what, tuple(params.values()))
        return r

    def post(self, url: str, data: dict[str, Any], what: str) -> Any:
        self.pages[what] += 1
        r = self.client.post(url, data)
        assert r.status_code < 500, f"{what}: {r.status_code}"
        self.shows_nothing_of_b(r, what)
        return r


def b_objects(tenant: Tenant, model: type[Model]) -> list[Model]:
    return tenant.objects.get(model, [])


ROLES = [Role.VIEWER, Role.MODERATOR, Role.ADMIN, Role.OWNER]


@pytest.mark.parametrize("role", ROLES, ids=[role.value for role in ROLES])
def test_a_member_of_a_sees_and_changes_nothing_of_b(
    tenants: tuple[Tenant, Tenant], role: Role, client: Client, rf: Any
) -> None:
    mine, other = tenants
    user = staff_member(mine.organisation, role, username=f"a-{role.value}")
    client.force_login(user)
    walk = Walk(client, other)
    before = fingerprint(other)
    request = rf.get("/admin/")
    request.user = user
    b_project = other.objects[Case][0].project  # type: ignore[attr-defined]

    for model, model_admin in registered():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        may_view = model_admin.has_view_permission(request)
        # The list, searched for B's words and ids, and filtered by B's project and organisation.
        changelist = reverse(f"{info}_changelist")
        listed = walk.get(changelist, "changelist")
        assert listed.status_code == (200 if may_view else 403), (model, listed.status_code)
        if may_view:
            assert not {obj.pk for obj in listed.context["cl"].result_list} & {
                obj.pk for obj in b_objects(other, model)
            }
            for spec in listed.context["cl"].filter_specs:
                shown = " ".join(str(choice.get("display")) for choice in spec.choices(listed.context["cl"]))
                assert MARK not in shown.lower(), (model, spec.title)
            for term in [MARK, *(str(obj.pk) for obj in b_objects(other, model))]:
                found = walk.get(changelist, "search", q=term)
                assert list(found.context["cl"].result_list) == [], (model, term)
            b_ids = {obj.pk for obj in b_objects(other, model)}
            for lookup, target in (("project__id__exact", b_project), ("organisation__id__exact", other.organisation)):
                filtered = walk.get(changelist, "filter", **{lookup: target.pk})
                if filtered.status_code == 200:
                    assert not {obj.pk for obj in filtered.context["cl"].result_list} & b_ids, (model, lookup)
        # B's objects by URL: the change, delete and history pages, and a forged save and delete.
        for obj in b_objects(other, model):
            for view in ("change", "delete", "history"):
                url = reverse(f"{info}_{view}", args=[obj.pk])
                # As if it did not exist, whatever the role may do with the model.
                answer = walk.get(url, view).status_code
                assert answer == 404, (model, view, answer)
                forged = {"post": "yes", "name": "x", "title": "x", "role": "viewer"}
                answer = walk.post(url, forged, f"forged {view}").status_code
                assert answer == 404, (model, view, answer)
        # Bulk actions with B's ids.
        if may_view:
            actions = model_admin.get_actions(request)
            for action in actions:
                ids = [obj.pk for obj in b_objects(other, model)] or ["missing"]
                walk.post(changelist, {"action": action, "_selected_action": ids, "post": "yes"}, "bulk action")
        # Add forms: nothing filed into B's project or organisation.
        if model_admin.has_add_permission(request):
            add = reverse(f"{info}_add")
            page = walk.get(add, "add form")
            assert page.status_code == 200
            data = {
                "project": b_project.pk,
                "organisation": other.organisation.pk,
                "mode": "live",
                "title": "Filed into B",
                "name": "Filed into B",
                "email": "filed-into-b@example.com",
                "role": "viewer",
                "status": "open",
                "scopes": ["cases:read"],
                "url": "http://127.0.0.1:9/filed",
                "events": ["case.created"],
                "form_key": secrets.token_urlsafe(18),
            }
            walk.post(add, data, "forged add")
        # Every custom URL of the admin, with B's ids.
        for pattern in custom_patterns(model_admin):
            for obj in b_objects(other, model):
                kwargs = {"object_id": obj.pk}
                for name in pattern.pattern.converters:
                    if name != "object_id":
                        assert name in other.url_values, f"teach the walk a value for {pattern.name}'s {name}"
                        kwargs[name] = other.url_values[name]
                url = reverse(f"admin:{pattern.name}", kwargs=kwargs)
                assert walk.get(url, "custom view").status_code == 404, url
                assert walk.post(url, {"post": "yes"}, "forged custom view").status_code == 404, url
        # Autocomplete of this model wherever a foreign key points at it.
        for source, _ in registered():
            for fk in source._meta.get_fields():
                if getattr(fk, "many_to_one", False) and fk.related_model is model and model_admin.search_fields:
                    r = walk.get(
                        reverse("admin:autocomplete"),
                        "autocomplete",
                        app_label=source._meta.app_label,
                        model_name=source._meta.model_name,
                        field_name=fk.name,
                        term="",
                    )
                    if r.status_code == 200:
                        found = {row["id"] for row in r.json()["results"]}
                        assert not found & {str(obj.pk) for obj in b_objects(other, model)}

    assert fingerprint(other) == before
    assert fingerprint(other)["members"] == before["members"]
    # What was walked, for the closing note (``-s``).
    total = sum(walk.pages.values())
    print(f"\n{role.value}: {total} requests against B: {dict(sorted(walk.pages.items()))}")
    assert total > 100


def test_a_viewer_saves_nothing_of_its_own_organisation(tenants: tuple[Tenant, Tenant], client: Client) -> None:
    mine, _ = tenants
    client.force_login(staff_member(mine.organisation, Role.VIEWER, username="a-viewer"))
    before = fingerprint(mine)
    saved = 0
    for model, _ in registered():
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for obj in mine.objects.get(model, []):
            url = reverse(f"{info}_change", args=[obj.pk])
            r = client.post(url, {"name": "x", "title": "x", "status": "closed", "role": "owner", "revoke": "on"})
            assert r.status_code in (403, 404), (model, r.status_code)
            saved += 1
    assert saved >= 8
    assert fingerprint(mine) == before


def test_a_member_of_both_organisations_sees_both(tenants: tuple[Tenant, Tenant], client: Client) -> None:
    mine, other = tenants
    user = staff_member(mine.organisation, Role.VIEWER, username="both")
    MemberFactory(organisation=other.organisation, user=user, role=Role.VIEWER)
    client.force_login(user)

    listed = client.get(reverse("admin:cases_case_changelist")).context["cl"].result_list

    assert {case.project.organisation_id for case in listed} == {mine.organisation.pk, other.organisation.pk}


def test_the_walk_sees_b_where_b_is_shown(tenants: tuple[Tenant, Tenant], admin_client: Client) -> None:
    """A superuser is shown B's objects: the checks above would fail on any page that did."""
    _, other = tenants
    walk = Walk(admin_client, other)
    for model in (Case, File, Player, Member):
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        with pytest.raises(AssertionError, match="shows"):
            walk.get(url, "changelist")
