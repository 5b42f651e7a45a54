"""GET /v1/cases (docs/api.md#paging): keyset paging newest first, the status filter and the page shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def _page(call, query: str) -> dict:
    r = call("GET", f"/v1/cases?{query}")
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"cases", "next_cursor", "has_more"}
    assert (body["next_cursor"] is None) == (not body["has_more"])
    return body


def _make_cases(project, count: int, *, same_instant: bool = False) -> list[Case]:
    """``count`` cases with distinct, descending-by-index ages (or one shared created_at)."""
    now = timezone.now()
    cases = [CaseFactory(project=project) for _ in range(count)]
    for index, case in enumerate(cases):
        created = now - timedelta(days=1) if same_instant else now - timedelta(minutes=count - index)
        Case.objects.filter(pk=case.pk).update(created_at=created)
    return cases


def test_empty_list(call) -> None:
    assert _page(call, "") == {"cases": [], "next_cursor": None, "has_more": False}


def test_default_limit_is_50_newest_first(call, project) -> None:
    _make_cases(project, 60)
    body = _page(call, "")
    assert len(body["cases"]) == 50
    assert body["has_more"]
    stamps = [(c["created_at"], c["id"]) for c in body["cases"]]
    assert stamps == sorted(stamps, reverse=True)


def test_paging_250_cases_at_limit_7_while_cases_are_inserted(call, project) -> None:
    """No row twice, none missing, though a new case arrives before every page."""
    existing = {c.id for c in _make_cases(project, 250)}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        body = _page(call, "limit=7" + (f"&cursor={cursor}" if cursor else ""))
        assert len(body["cases"]) <= 7
        seen += [c["id"] for c in body["cases"]]
        pages += 1
        CaseFactory(project=project, title=f"arrived before page {pages + 1}")
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert len(seen) == len(set(seen)), "a case was listed twice"
    assert set(seen) == existing, "a case was skipped (or a newer one leaked in)"
    assert pages == 36  # ceil(250 / 7)


def test_ties_on_created_at_are_ordered_by_id_and_paged_without_loss(call, project) -> None:
    cases = _make_cases(project, 20, same_instant=True)
    seen: list[str] = []
    cursor = None
    while True:
        body = _page(call, "limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [c["id"] for c in body["cases"]]
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
    assert seen == sorted((c.id for c in cases), reverse=True)


def test_last_full_page_has_no_next_cursor(call, project) -> None:
    _make_cases(project, 6)
    first = _page(call, "limit=3")
    assert first["has_more"]
    assert first["next_cursor"]
    second = _page(call, f"limit=3&cursor={first['next_cursor']}")
    assert len(second["cases"]) == 3
    assert second == {**second, "has_more": False, "next_cursor": None}


@pytest.mark.parametrize("status", ["open", "closed", "archived"])
def test_status_filter(call, project, status) -> None:
    wanted = {CaseFactory(project=project, status=status).id for _ in range(3)}
    for other in {"open", "closed", "archived"} - {status}:
        CaseFactory(project=project, status=other)
    body = _page(call, f"status={status}")
    assert {c["id"] for c in body["cases"]} == wanted
    assert all(c["status"] == status for c in body["cases"])


def test_status_filter_pages_with_the_cursor(call, project) -> None:
    cases = _make_cases(project, 12)
    for case in cases[::2]:
        Case.objects.filter(pk=case.pk).update(status="closed")
    first = _page(call, "status=closed&limit=4")
    second = _page(call, f"status=closed&limit=4&cursor={first['next_cursor']}")
    ids = [c["id"] for c in first["cases"] + second["cases"]]
    assert ids == [c.id for c in reversed(cases[::2])]
    assert not second["has_more"]


def test_list_embeds_attachments_in_the_order_they_were_attached(call, project) -> None:
    import io

    from tests.factories import attach_file

    case = CaseFactory(project=project)
    names = [
        attach_file(case=case, content=io.BytesIO(b"log line %d" % i), original_name=f"log{i}.txt").file.original_name
        for i in range(3)
    ]
    [listed] = _page(call, "")["cases"]
    assert [a["original_name"] for a in listed["attachments"]] == names
    first = listed["attachments"][0]
    assert set(first) == {
        "id",
        "url",
        "key",
        "size",
        "content_type",
        "sha256",
        "original_name",
        "tags",
        "folder",
        "abuse_status",
        "visibility",
        "storage_class",
        "created_at",
        "updated_at",
    }
    assert first["key"] == f"{project.id}/{first['id']}/log0.txt"
    # A private file: its url is signed (media.storage), on the host the request came to.
    assert first["url"].startswith(f"http://testserver/media/{first['key']}?expires=")
    assert first["content_type"] == "text/plain"
