"""A PNG's chunks checked in the pass that hashes the upload (``media.content.PngChunks``) refuse and
accept exactly what Pillow's ``open`` and ``verify`` did when they read the file again afterwards."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from media.content import BrokenPng, PngChunks, sniff
from media.errors import UnsupportedType
from media.services import ContentInspector, inspect_content
from serverops.exceptions import InvalidValue


def chunk(name: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The (name, data) of every chunk of ``png``, IEND included."""
    out, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        out.append((png[at + 4 : at + 8], png[at + 8 : at + 8 + length]))
        at += 12 + length
    return out


def layered_png() -> bytes:
    """A small real PNG with a text chunk, its image data split over three IDATs and an empty
    ancillary chunk between them: every kind of chunk boundary in under 300 bytes."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "anticheat")
    out = io.BytesIO()
    Image.effect_noise((12, 12), 60).convert("RGB").save(out, format="PNG", pnginfo=info)
    chunks = png_chunks(out.getvalue())
    data = b"".join(body for name, body in chunks if name == b"IDAT")
    third = len(data) // 3
    idats = [chunk(b"IDAT", data[:third]), chunk(b"IDAT", data[third : 2 * third])]
    idats += [chunk(b"zzZz", b""), chunk(b"IDAT", data[2 * third :])]
    head = b"".join(chunk(name, body) for name, body in chunks if name not in (b"IDAT", b"IEND"))
    return out.getvalue()[:8] + head + b"".join(idats) + chunk(b"IEND", b"")


PNG = layered_png()


def pillow_accepts(data: bytes) -> bool:
    """What the service checked before: the type sniffed from the bytes, then Pillow's open and verify."""
    if sniff(data) != "image/png":
        return False
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError, EOFError):
        return False
    return True


def service_accepts(data: bytes, pieces: int = 1) -> bool:
    """What it checks now: ``ContentInspector`` fed ``data`` in ``pieces`` random pieces, then Pillow's open."""
    rng = random.Random(len(data) * 31 + pieces)
    cuts = sorted(rng.sample(range(1, len(data)), max(0, min(pieces, len(data)) - 1)))
    inspector = ContentInspector()
    try:
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            inspector.feed(data[start:end])
        facts = inspector.finish()
    except (UnsupportedType, InvalidValue):  # 415, or 400 for no bytes at all
        return False
    assert facts.chunks_checked
    try:
        inspect_content(io.BytesIO(data))
    except UnsupportedType:
        return False
    return True


def test_the_sample_is_a_png_pillow_accepts() -> None:
    assert pillow_accepts(PNG)
    assert [name for name, _ in png_chunks(PNG)].count(b"IDAT") == 3


@pytest.mark.parametrize("pieces", [1, 2, 7, 50])
def test_a_whole_png_is_accepted_in_any_pieces(pieces: int) -> None:
    assert service_accepts(PNG, pieces)


def test_every_truncation_is_refused_as_pillow_refused_it() -> None:
    for end in range(len(PNG)):
        assert service_accepts(PNG[:end], 3) == pillow_accepts(PNG[:end]), f"cut at {end} of {len(PNG)}"


def test_every_flipped_byte_gets_pillows_verdict() -> None:
    for at in range(len(PNG)):
        for flip in (0x01, 0x80):
            damaged = PNG[:at] + bytes([PNG[at] ^ flip]) + PNG[at + 1 :]
            assert service_accepts(damaged, 4) == pillow_accepts(damaged), f"byte {at} ^ {flip:#x}"


def test_bytes_after_iend_are_not_read_as_pillow_does_not_read_them() -> None:
    for trailer in (b"x", b"\x00" * 9, chunk(b"bad!", b"never read"), b"<script>alert(1)</script>"):
        assert service_accepts(PNG + trailer, 5) == pillow_accepts(PNG + trailer) is True


@settings(max_examples=300, deadline=None)
@given(
    at=st.integers(min_value=0, max_value=len(PNG) - 1),
    replacement=st.binary(min_size=0, max_size=12),
    removed=st.integers(min_value=0, max_value=12),
    pieces=st.integers(min_value=1, max_value=20),
)
def test_spliced_pngs_get_pillows_verdict(at: int, replacement: bytes, removed: int, pieces: int) -> None:
    damaged = PNG[:at] + replacement + PNG[at + removed :]
    assert service_accepts(damaged, pieces) == pillow_accepts(damaged)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (PNG[:-12], "ends before its IEND"),
        (PNG[:8] + chunk(b"IH#R", b"\x00" * 13) + chunk(b"IEND", b""), "no chunk is named"),
        (PNG[:40] + bytes([PNG[40] ^ 1]) + PNG[41:], "bad CRC-32"),
    ],
)
def test_a_broken_png_says_why(data: bytes, reason: str) -> None:
    def check() -> None:
        chunks = PngChunks()
        chunks.feed(data)
        chunks.finish()

    with pytest.raises(BrokenPng, match=reason):
        check()


def test_a_broken_chunk_is_refused_as_it_streams_in_not_at_the_end() -> None:
    inspector = ContentInspector()
    damaged = PNG[:100] + bytes([PNG[100] ^ 1]) + PNG[101:]
    big = damaged + b"\x00" * 20_000  # past SNIFF_BYTES, so the type is decided on the first chunk
    with pytest.raises(UnsupportedType, match="not a valid image/png image"):
        inspector.feed(big[:9000])
    assert inspector.size == 9000


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=70_000), max_size=6), st.integers(min_value=0, max_value=2**32 - 1))
def test_the_crc_the_chunks_are_checked_with_is_zlibs(pieces: list[bytes], start: int) -> None:
    """ISA-L's CRC-32 (media.content.crc32) is zlib's checksum, carried across pieces as PngChunks carries it."""
    from media.content import crc32

    ours, theirs = start, start
    for piece in pieces:
        ours, theirs = crc32(memoryview(piece), ours), zlib.crc32(piece, theirs)
    assert ours == theirs
