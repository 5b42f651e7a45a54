"""``media.uploads.BodyPartsOnly`` reads the server's stream in blocks and hands out slices of them:
what comes out, in any read sizes and at any block size, is the body from its first delimiter to
the end of its closing one, and it reads no further than one block past what it handed out."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from media.uploads import BLOCK, BodyPartsOnly

BOUNDARY = b"xYz"


def expected(body: bytes) -> bytes:
    """RFC 2046 §5.1.1: the parts run from the first delimiter (a line break before it optional at
    the very start) to the end of the closing delimiter; preamble and epilogue are dropped."""
    framed = b"\r\n" + body
    delimiter = b"\r\n--" + BOUNDARY
    start = framed.find(delimiter)
    if start < 0:
        return b""
    close = framed.find(delimiter + b"--", start)
    end = len(framed) if close < 0 else close + len(delimiter) + 2
    return framed[start + 2 : end]


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.handed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.handed += len(data)
        return data


pieces = st.sampled_from(
    [b"\r\n", b"--", BOUNDARY, b"x", b"Y", b"\r\n--xYz", b"\r\n--xYz--", b"\r\n--xY", b"z--", b"-"]
)


@settings(max_examples=500, deadline=None)
@given(
    body=st.lists(pieces, max_size=40).map(b"".join),
    block=st.integers(min_value=1, max_value=24),
    reads=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=8),
)
def test_the_parts_come_out_whole_in_any_reads_and_blocks(body: bytes, block: int, reads: list[int]) -> None:
    stream = CountingStream(body)
    parts = BodyPartsOnly(stream, BOUNDARY, block=block)
    out, turn = [], 0
    while data := parts.read(reads[turn % len(reads)]):
        assert len(data) <= reads[turn % len(reads)]
        out.append(data)
        turn += 1

    assert b"".join(out) == expected(body)


@settings(max_examples=200, deadline=None)
@given(body=st.lists(pieces, max_size=40).map(b"".join), block=st.integers(min_value=1, max_value=24))
def test_read_all_gives_the_same_parts(body: bytes, block: int) -> None:
    assert BodyPartsOnly(io.BytesIO(body), BOUNDARY, block=block).read() == expected(body)


def test_a_large_body_is_read_in_blocks_and_no_further_than_one_ahead() -> None:
    body = b"--xYz\r\n" + b"\x00" * (20 * BLOCK) + b"\r\n--xYz--\r\n"
    stream = CountingStream(body)
    parts = BodyPartsOnly(stream, BOUNDARY)
    handed = 0
    for _ in range(20):
        handed += len(parts.read(64 * 1024))
        assert handed <= stream.handed <= handed + BLOCK
    assert stream.handed < 6 * BLOCK  # of 20
