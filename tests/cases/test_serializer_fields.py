"""``CaseSerializer`` copies its declared fields per instance instead of deep-copying them."""

from __future__ import annotations

from cases.serializers import CaseSerializer


def test_each_serializer_binds_fields_of_its_own_and_leaves_the_declared_ones_alone() -> None:
    first, second = CaseSerializer(data={}), CaseSerializer(data={})
    for name, declared in CaseSerializer._declared_fields.items():
        assert first.fields[name] is not second.fields[name] is not declared
        assert (first.fields[name].parent, second.fields[name].parent) == (first, second)
        assert first.fields[name].field_name == name
        assert declared.parent is None and declared.field_name is None  # never bound


def test_no_declared_field_has_a_child_that_a_copy_would_share() -> None:
    # A shallow copy would leave a ListField's or a nested serializer's child bound to the
    # declared field; get_fields() must deep-copy again before such a field is added.
    for field in CaseSerializer._declared_fields.values():
        assert not hasattr(field, "child") and not hasattr(field, "_declared_fields"), field


def test_one_serializers_errors_and_values_do_not_reach_another() -> None:
    bad = CaseSerializer(data={"title": "x" * 201, "status": "nope"}, partial=True)
    good = CaseSerializer(data={"title": "  Fine  ", "status": "closed"}, partial=True)
    assert not bad.is_valid()
    assert good.is_valid(), good.errors
    assert set(bad.errors) == {"title", "status"}
    assert good.validated_data == {"title": "Fine", "status": "closed"}
