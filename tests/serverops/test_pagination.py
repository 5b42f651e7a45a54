"""Signed cursors (issue 10, fault 2): a list parses only the cursors it issued itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import signing

from serverops.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor

ULID = "01JD3Z8W6V4M2Q9T7K5X1B0N3R"
WHEN = datetime(2026, 11, 27, 17, 41, 32, 123456, tzinfo=UTC)


@pytest.mark.parametrize("salt", ["cases", "events", "files"])
def test_a_cursor_names_the_exact_position_it_was_issued_for(salt) -> None:
    cursor = encode_cursor(WHEN, f"c_{ULID}", salt=salt)
    assert decode_cursor(cursor, "c", salt=salt) == (WHEN, f"c_{ULID}")
    assert len(cursor) < MAX_CURSOR_LENGTH


@pytest.mark.parametrize(("issued_by", "sent_to"), [("cases", "events"), ("events", "cases"), ("cases", "files")])
def test_a_cursor_of_one_list_is_refused_by_every_other(issued_by, sent_to) -> None:
    cursor = encode_cursor(WHEN, f"c_{ULID}", salt=issued_by)
    with pytest.raises(ValueError, match="this list issued"):
        decode_cursor(cursor, "c", salt=sent_to)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([10**20, f"c_{ULID}"], id="beyond-year-9999"),
        pytest.param([-(10**20), f"c_{ULID}"], id="before-year-1"),
        pytest.param(["9999-12-31T23:59:59-14:00", f"c_{ULID}"], id="a-string-time"),
        pytest.param([0, f"ev_{ULID}"], id="another-kind-of-id"),
        pytest.param([0.5, f"c_{ULID}"], id="a-float"),
        pytest.param({"t": 0}, id="an-object"),
    ],
)
def test_even_a_validly_signed_cursor_with_impossible_content_is_refused(content) -> None:
    # The service never signs these; if it ever did, they would still not reach the database.
    cursor = signing.Signer(salt="serverops.pagination.cases").sign_object(content)
    with pytest.raises(ValueError, match=r"unexpected cursor content|impossible timestamp"):
        decode_cursor(cursor, "c", salt="cases")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * (MAX_CURSOR_LENGTH + 1), id="too-long"),
        pytest.param("WzAsImNfMDFKRDNaOFc2VjRNMlE5VDdLNVgxQjBOM1IiXQ", id="unsigned"),
        pytest.param("WzAsImNfMDFKRDNaOFc2VjRNMlE5VDdLNVgxQjBOM1IiXQ:forged", id="forged-signature"),
        pytest.param("\x00:\x00", id="nul"),
    ],
)
def test_anything_else_is_refused(cursor) -> None:
    with pytest.raises(ValueError, match=r"cursor too long|this list issued"):
        decode_cursor(cursor, "c", salt="cases")
