"""The admin's tenant isolation: one mixin every ModelAdmin and inline of the site is built on
(docs/operations.md#members-and-roles).

An admin declares how its model reaches the organisation (``organisation_path``) and which
role each kind of access needs; the mixin answers every hook Django's admin asks with
``tokens.access``: the rows of lists, searches, filters, autocompletes and bulk actions, the
object pages (another organisation's object is a 404, as if it did not exist), the choices of
foreign keys on forms, and the ``has_*_permission`` checks. Roles are the only source of truth:
Django's model permissions and groups grant nothing on this site.

``tests/admin/test_isolation.py`` walks every registered admin and fails for one without it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse

from .access import has_any_role, has_role, is_superuser, organisations_where
from .models import Organisation, Project, Role

# How each model of this app reaches its organisation; the apps above declare theirs on their admins.
OWN_PATHS: dict[type[Model], str] = {Organisation: "pk", Project: "organisation"}


def scoped(queryset: QuerySet[Any], path: str | None, user: Any, at_least: Role) -> QuerySet[Any]:
    """``queryset`` narrowed to the rows of organisations where ``user`` holds ``at_least``.

    ``path`` leads from the model to its organisation (``"project__organisation"``); ``None``
    marks a model only superusers see.
    """
    if is_superuser(user):
        return queryset
    orgs = organisations_where(user, at_least)
    if path is None or not orgs:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": orgs})


def organisation_of(obj: Model, path: str) -> str | None:
    """The organisation id of ``obj`` by following ``path`` through loaded or cached relations;
    the last hop reads the foreign key's column, so it costs no query of its own."""
    *hops, last = path.split(LOOKUP_SEP)
    current: Any = obj
    for hop in hops:
        current = getattr(current, hop, None)
        if current is None:
            return None
    if last == "pk":
        return str(current.pk)
    field = current._meta.get_field(last)
    value = getattr(current, field.attname, None)
    return None if value is None else str(value)


class OrganisationScoped:
    """Mixed into every ModelAdmin and inline: see the module docstring.

    ``organisation_path`` is ``None`` for models only superusers see (staff accounts, the task
    queue). ``view_role`` reads; ``change_role`` changes, adds and deletes (each admin may still
    refuse an operation outright, e.g. cases are never deleted). An inline's object checks are
    made against the organisation of the page's object.
    """

    organisation_path: str | None = None
    view_role: Role = Role.VIEWER
    change_role: Role = Role.MODERATOR

    model: type[Model]
    admin_site: admin.AdminSite

    # Rows

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        return scoped(queryset, self.organisation_path, request.user, self.view_role)

    def changeable(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """``queryset`` narrowed to the rows the user may change (bulk actions act on these only)."""
        return scoped(queryset, self.organisation_path, request.user, self.change_role)

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Selected ids of rows the user only reads (or cannot see at all) are left out.
        narrowed = self.changeable(request, queryset)
        return super().response_action(request, narrowed, *args, **kwargs)  # type: ignore[misc, no-any-return]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """The object, from the rows the user sees; a 404 when it is not one of them.

        Raised here, before any page asks for permissions, so an object of another organisation
        is answered exactly as one that does not exist, on every object page and custom view
        (Django would redirect to the index, or refuse with a 403 a user who may not delete).
        """
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None:
            raise Http404(f"{self.model._meta.verbose_name} not found")
        return obj

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """A foreign key to a project or an organisation offers only those the user may change in."""
        path = OWN_PATHS.get(db_field.related_model)
        if path is not None:
            choices = kwargs.get("queryset", db_field.related_model._default_manager.all())
            kwargs["queryset"] = scoped(choices, path, request.user, self.change_role)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    # Permissions

    def _organisation(self, obj: Model) -> str | None:
        if self.organisation_path is None:
            return None
        if isinstance(obj, self.model):
            return organisation_of(obj, self.organisation_path)
        # An inline is asked about the page's object, which its own admin knows the path of.
        parent: Any = self.admin_site.get_model_admin(type(obj))
        return organisation_of(obj, parent.organisation_path)

    def _allowed(self, request: HttpRequest, obj: Model | None, role: Role) -> bool:
        user = request.user
        if is_superuser(user):
            return True
        if self.organisation_path is None or not getattr(user, "is_staff", False):
            return False
        if obj is None:
            return has_any_role(user, role)
        organisation = self._organisation(obj)
        return organisation is not None and has_role(user, organisation, role)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request, None, self.view_role)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, self.view_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, self.change_role)

    def _has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, self.change_role)

    # A ModelAdmin's is asked (request), an inline's (request, obj): typed loosely so each
    # admin may keep its own signature when it refuses adding outright.
    has_add_permission: Any = _has_add_permission

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, self.change_role)


class SuperuserOnly(OrganisationScoped):
    """For the admins of models that belong to no organisation (staff accounts, groups, the task queue)."""

    organisation_path = None
