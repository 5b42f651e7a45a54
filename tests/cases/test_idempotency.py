"""Idempotency-Key on POST /v1/cases (docs/api.md#retries-with-idempotency-key): retries replay, a changed
body conflicts, keys expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from cases.models import Case, IdempotentRequest
from tests.factories import TokenFactory

pytestmark = pytest.mark.django_db


def post(call, body, key, **kwargs):
    return call("POST", "/v1/cases", json_body=body, headers={"Idempotency-Key": key}, **kwargs)


def test_retry_with_the_same_key_and_body_replays_the_first_response(call) -> None:
    first = post(call, {"title": "Aimbot", "description": "clip"}, "retry-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first

    again = post(call, {"description": "clip", "title": "Aimbot"}, "retry-1")  # same body, other key order
    assert again.status_code == 201, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (again["ETag"], again["Location"]) == (first["ETag"], first["Location"])
    assert Case.objects.count() == 1


def test_same_key_with_a_different_body_is_409_and_creates_nothing(call) -> None:
    assert post(call, {"title": "Aimbot"}, "k").status_code == 201
    r = post(call, {"title": "Wallhack"}, "k")
    assert r.status_code == 409, r.content
    assert r.json()["error"]["code"] == "conflict"
    assert list(Case.objects.values_list("title", flat=True)) == ["Aimbot"]


def test_keys_are_per_token(call, project) -> None:
    other = TokenFactory(project=project)
    assert post(call, {"title": "a"}, "shared").status_code == 201
    r = post(call, {"title": "a"}, "shared", auth=f"Bearer {other.plaintext}")
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r
    assert Case.objects.count() == 2


def test_a_refused_request_does_not_use_up_the_key(call) -> None:
    assert post(call, {"title": ""}, "k").status_code == 400
    r = post(call, {"title": "fixed"}, "k")
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r


def test_a_key_older_than_24_hours_may_be_used_again(call) -> None:
    assert post(call, {"title": "first"}, "k").status_code == 201
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    r = post(call, {"title": "second"}, "k")
    assert r.status_code == 201
    assert "Idempotent-Replayed" not in r
    assert Case.objects.count() == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "naïve", "line\nbreak"])
def test_a_malformed_key_is_400(call, key) -> None:
    r = post(call, {"title": "t"}, key)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "Idempotency-Key"
    assert not Case.objects.exists()


@pytest.mark.parametrize("key", ["a", "x" * 255, "order-42 retry #3 (EU-1)", "~!@#$%^&*()"])
def test_printable_keys_up_to_255_are_accepted(call, key) -> None:
    assert post(call, {"title": "t"}, key).status_code == 201


def test_purge_deletes_only_expired_keys(call, capsys) -> None:
    post(call, {"title": "old"}, "old")
    post(call, {"title": "new"}, "new")
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=2))
    call_command("purge_idempotency_keys")
    assert capsys.readouterr().out == "1\n"
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
