"""``FastLoadingModel``: rows load into the same instances ``Model.__init__`` would make, and the
ORM's own way is kept wherever the short way would differ."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.db.models.signals import post_init, pre_init

from cases.models import Attachment, Case, CaseEvent
from media.models import File
from serverops.models import FastLoadingModel, _plain_fields
from tests.factories import CaseFactory, attach_file
from tokens.models import ScopedToken

pytestmark = pytest.mark.django_db

FAST_MODELS = [Case, Attachment, CaseEvent, File, ScopedToken]


def _fields(instance: models.Model) -> dict[str, Any]:
    return {name: value for name, value in vars(instance).items() if name != "_state"}


def _the_orms_way(model: type[models.Model], row: list[Any], names: list[str]) -> models.Model:
    return models.Model.from_db.__func__(model, "default", names, row)  # type: ignore[attr-defined]


@pytest.fixture
def evidence(project: Any) -> Attachment:
    link = attach_file(case=CaseFactory(project=project), tags=["kill-feed", "é"])
    return Attachment.objects.get(pk=link.pk)


@pytest.mark.parametrize("model", FAST_MODELS, ids=lambda model: model.__name__)
def test_every_hot_model_loads_the_short_way(model: type[models.Model]) -> None:
    assert issubclass(model, FastLoadingModel)
    assert _plain_fields(model)


def test_a_row_loads_into_the_instance_init_makes(evidence: Attachment, token: ScopedToken) -> None:
    for instance in [evidence, evidence.case, evidence.file, token]:
        model = type(instance)
        names = [field.attname for field in model._meta.concrete_fields]
        row = list(model.objects.filter(pk=instance.pk).values_list(*names).get())

        loaded = model.from_db("default", names, row)
        expected = _the_orms_way(model, row, names)

        assert type(loaded) is model
        assert _fields(loaded) == _fields(expected)
        assert (loaded._state.adding, loaded._state.db) == (False, "default")
        assert loaded == expected


def test_loaded_instances_behave_as_the_orms(evidence: Attachment) -> None:
    file = File.objects.get(pk=evidence.file_id)

    assert file.blob.name == file.key
    assert file.tags == ["kill-feed", "é"]
    assert file.project.pk == file.project_id  # the relation loads on first use
    link = Attachment.objects.select_related("case", "file").get(pk=evidence.pk)
    assert (link.case.pk, link.file.pk) == (evidence.case_id, evidence.file_id)

    case = Case.objects.get(pk=evidence.case_id)
    case.title = "Renamed"
    case.save(update_fields=["title"])  # an UPDATE, not an INSERT: the instance is not "adding"
    assert Case.objects.get(pk=case.pk).title == "Renamed"
    assert Case.objects.count() == 1


def test_a_row_with_deferred_fields_loads_the_orms_way(evidence: Attachment) -> None:
    case = Case.objects.only("id", "title").get(pk=evidence.case_id)

    assert case.get_deferred_fields() == {
        field.attname for field in Case._meta.concrete_fields if field.attname not in {"id", "title"}
    }
    assert case.status == evidence.case.status  # loaded on first use, as the ORM does


@pytest.mark.parametrize("signal", [pre_init, post_init], ids=["pre_init", "post_init"])
def test_a_receiver_of_the_init_signals_is_still_called(evidence: Attachment, signal: Any) -> None:
    seen: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs.get("instance", kwargs.get("args")))

    signal.connect(receiver, sender=Case)
    try:
        case = Case.objects.get(pk=evidence.case_id)
        File.objects.get(pk=evidence.file_id)  # another model: no receiver, the short way
    finally:
        signal.disconnect(receiver, sender=Case)

    assert len(seen) == 1
    if signal is post_init:
        assert seen == [case]
