"""The staff admin's site: ServerOps branding, and input no admin page may crash on.

Staff URLs get shared, bookmarked and mistyped, so every admin page answers crafted
query strings and object ids with a 400 or the admin's own "not found" / "incorrect
lookup" handling, never a 500. Two guards do it for every page of the site, including
pages of admins registered by other apps (``auth``'s users and groups, later ones):

- ``ServerOpsAdminSite.admin_view`` refuses a NUL character anywhere in the path or the
  query string. PostgreSQL cannot hold NUL in text, so such an id or filter value fails
  inside the database driver; no real id, filter or search contains one. Form fields
  refuse NUL themselves (Django's forms validate it), so POSTed forms are left to them.
- ``SafeLookupsMixin``, mixed into every ModelAdmin the site registers, narrows the
  change list's URL lookups to the kinds the admin's own filters and date hierarchy
  build. Anything else (``__regex``, whose pattern the database compiles and refuses
  only when the query runs; transform chains such as ``created_at__year__gt``) is
  refused, and date parts must name a date the calendar can hold.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast
from weakref import WeakKeyDictionary

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist, SuspiciousOperation
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse_lazy
from django.utils.cache import add_never_cache_headers

from .parsers import whole_number

View = TypeVar("View", bound=Callable[..., Any])

# What the admin's list filters, date hierarchy and id links put in a change-list URL.
SAFE_LOOKUPS = frozenset({"exact", "iexact", "isnull", "isempty", "in", "gt", "gte", "lt", "lte"})
# Date hierarchy parts, with the values the calendar can hold. The hierarchy queries the
# range up to the next year, month or day, so the last year is 9998 (datetime ends at 9999).
DATE_PARTS = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


class BadAdminInput(SuspiciousOperation):
    """A crafted or mangled admin URL: answered with Django's 400 page."""


def refuse_nul(values: Iterable[str], what: str) -> None:
    if any("\x00" in value for value in values):
        raise BadAdminInput(f"NUL character in the {what}")


class SafeLookupsMixin:
    """Change-list lookups limited to what the admin builds; see the module docstring."""

    model: type[Model]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        transforms = _lookup_parts(self.model, lookup)
        if transforms is None:
            # Not a field: a SimpleListFilter's parameter, which the filter itself reads.
            return super().lookup_allowed(lookup, value, request)  # type: ignore[misc, no-any-return]
        if len(transforms) > 1:
            return False
        if transforms:
            (name,) = transforms
            if name in DATE_PARTS:
                low, high = DATE_PARTS[name]
                number = whole_number(value, max_digits=len(str(high)))
                if number is None or not low <= number <= high:
                    return False
            elif name not in SAFE_LOOKUPS:
                return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc, no-any-return]

    def response_action(self, request: HttpRequest, queryset: Any) -> HttpResponseBase | None:
        # The selected ids go to the database as they are, outside any form.
        refuse_nul(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME), "selected ids")
        return super().response_action(request, queryset)  # type: ignore[misc, no-any-return]


def _lookup_parts(model: type[Model], lookup: str) -> list[str] | None:
    """The lookup and transform names after the field path of ``lookup``; None when it names no field."""
    parts = lookup.split(LOOKUP_SEP)
    opts = model._meta
    for index, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return None if index == 0 else parts[index:]
        related = field.related_model
        if not field.is_relation or related is None or isinstance(related, str):
            return parts[index + 1 :]
        opts = related._meta
    return []


class ServerOpsAdminSite(admin.AdminSite):
    """The staff admin, branded, with the guards above on every page."""

    site_header = "ServerOps"
    site_title = "ServerOps admin"
    index_title = "Moderation and access"
    # "View site" opens the API's documentation page: the service has no other public page.
    site_url = reverse_lazy("docs")  # type: ignore[assignment]

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            refuse_nul([request.path], "path")
            refuse_nul([*request.GET.keys(), *(v for values in request.GET.lists() for v in values[1])], "query")
            return view(request, *args, **kwargs)

        return cast(View, super().admin_view(guarded, cacheable))

    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        """Register as usual, with ``SafeLookupsMixin`` mixed into admins that do not have it yet."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SafeLookupsMixin):
            admin_class = type(
                admin_class.__name__,
                (SafeLookupsMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)


def shown_once_response(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, *, template: str, title: str, obj: Model, secret: str
) -> TemplateResponse:
    """The page that shows a new secret (a token, a webhook signing secret) this once, as the
    response to the POST that created it: never cached, and never rendered again, since a
    reload re-sends a form whose one-time key is spent. ``template`` extends
    ``admin/shown_once.html``."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "object": obj,
        "secret_value": secret,
    }
    response = TemplateResponse(request, template, context)
    add_never_cache_headers(response)
    return response


# How long an add form's one-time key stays spent: longer than anyone keeps a page open.
FORM_KEY_LIFETIME = 24 * 60 * 60
# A secret travels from save_model to response_add within one request, in memory only; the
# entry goes with the request object.
_secrets: WeakKeyDictionary[HttpRequest, str] = WeakKeyDictionary()


class ShownOnceAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """An add form whose save shows a secret once: reloading the shown-once page re-sends the
    form, and its one-time ``form_key`` makes that a form error instead of a second object
    with a second secret. Subclasses name ``form_key_prefix`` and ``already_used``."""

    form_key_prefix = ""
    already_used = ""
    form_key = forms.CharField(widget=forms.HiddenInput, initial=lambda: secrets.token_urlsafe(18), max_length=64)

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        # Spent only by a submission that will create the object, so fixing a mistake and
        # sending the same form again still works.
        key = f"{self.form_key_prefix}:{cleaned.get('form_key')}"
        if not self.errors and not cache.add(key, True, timeout=FORM_KEY_LIFETIME):
            raise forms.ValidationError(self.already_used)
        return cleaned


class ShownOnceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """An admin whose add form creates an object with a secret (a token, a signing secret) and
    answers with the page that shows it this once (``shown_once_response``). ``save_model``
    hands the secret over with ``keep_secret``."""

    shown_once_template = ""
    shown_once_title = ""

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        # After the one save the response is the shown-once page, never another form.
        context = {"show_save_and_continue": False, "show_save_and_add_another": False, **(extra_context or {})}
        return super().add_view(request, form_url, context)

    def keep_secret(self, request: HttpRequest, secret: str) -> None:
        _secrets[request] = secret

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        """The shown-once page, as the response to the POST that created ``obj``.

        Reloading it re-sends the form, which its spent ``form_key`` refuses; as a GET it
        shows an empty form: the secret is never rendered again.
        """
        return shown_once_response(
            self,
            request,
            template=self.shown_once_template,
            title=self.shown_once_title,
            obj=obj,
            secret=_secrets.pop(request),
        )


def adopt_saved(target: Model, saved: Model) -> None:
    """Make ``target`` (the admin's form instance) the row a service saved as ``saved``.

    The admin goes on with its own instance after ``save_model`` (inlines, history,
    redirect), so that instance must carry the stored values and primary key.
    """
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db
