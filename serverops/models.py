"""A base and a field for the models the API reads by the hundred per request."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from inspect import getattr_static
from typing import Any, Self

import orjson
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

# The descriptors whose __set__ on a new instance only stores the value in its __dict__
# (a foreign key's also clears a cached related object, which a new instance has none of).
# An ImageField's descriptor, which also reads the image's size, is not among them.
_STORING_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute, FileDescriptor)


class FastLoadingModel(models.Model):
    """A model whose rows become instances without ``Model.__init__``.

    For a row with every column, ``__init__`` sets each field through its descriptor and sends
    ``pre_init`` and ``post_init``: 5 µs for a File on the benchmark machine, against 1 µs for
    filling the instance's ``__dict__`` with the row directly, which leaves the same instance.
    A page of 50 cases with their files is 200 instances (bench/PROFILE.md, section 9).

    The short way is taken only where it is the same: every column loaded, no receiver of
    either init signal for the model, and every field's attribute a plain storing descriptor.
    Anything else (deferred fields, a signal receiver, an ImageField…) loads the ORM's way.
    """

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any) -> Self:
        if (
            kwargs  # what a later Django passes (6.1's fetch_mode): its own way knows what to do with it
            or len(values) != len(cls._meta.concrete_fields)
            or not _plain_fields(cls)
            # Most projects connect no receiver at all: an empty list is cheaper to ask than has_listeners().
            or (pre_init.receivers and pre_init.has_listeners(cls))
            or (post_init.receivers and post_init.has_listeners(cls))
        ):
            return super().from_db(db, field_names, values, **kwargs)
        new = cls.__new__(cls)
        # field_names are the columns' attribute names in the row's order.
        new.__dict__.update(zip(field_names, values, strict=True))
        state = new._state = ModelState()
        state.adding = False
        state.db = db
        return new


@cache
def _plain_fields(model: type[models.Model]) -> bool:
    """Whether each concrete field of ``model`` is set through a plain storing descriptor."""
    fields = model._meta.concrete_fields
    return all(type(getattr_static(model, field.attname, None)) in _STORING_DESCRIPTORS for field in fields)


class StringListField(models.JSONField):
    """A ``JSONField`` that holds a list of strings (``File.tags``), read with orjson.

    A page of 50 cases with their files reads about 80 of them: 1.9 µs each through
    ``JSONField`` (``json.loads``) on the benchmark machine, 1.1 µs here (bench/PROFILE.md,
    section 12). orjson reads JSON as the standard library does but for
    integers beyond 64 bits (floats to orjson), NaN and infinity, and lone surrogates (both
    refused by orjson); only the last can be in a list of strings, and orjson refuses it. So
    orjson's reading stands when it is a list of strings, and any other value, however it
    got into the column, is read by ``JSONField`` as before.
    """

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if isinstance(value, str) and self.decoder is None:
            try:
                items = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
            else:
                if type(items) is list and all(isinstance(item, str) for item in items):
                    return items
        return super().from_db_value(value, expression, connection)
