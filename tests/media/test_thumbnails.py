"""Thumbnails never crash or stall the admin: hostile and broken images give a placeholder."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from cases.demo import screenshot_png
from media.models import File
from media.thumbnails import MAX_PIXELS, THUMBNAIL_SIZE, file_thumbnail, render_thumbnail, thumbnail_name
from tests.factories import FileFactory

pytestmark = pytest.mark.django_db


def png_header(width: int, height: int, *, mode: int = 2, idat: bytes = b"") -> bytes:
    """A PNG whose header declares ``width`` × ``height`` pixels, with whatever pixel data follows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat or zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def gif_header(width: int, height: int) -> bytes:
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x00\x00\x00"
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def encoded(fmt: str, size: tuple[int, int] = (1200, 800), mode: str = "RGB", **params: Any) -> bytes:
    image = Image.new(mode, size, (200, 30, 30, 128)[: len(mode)] if mode in ("RGB", "RGBA") else 1)
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def jpeg_rotated() -> bytes:
    """A 1200×800 JPEG whose EXIF says to turn it a quarter (orientation 6): shown 800×1200."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded("JPEG", exif=exif.tobytes())


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(png_header(50_000, 50_000), id="bomb-png-2.5-gigapixels"),
        pytest.param(png_header(65_535, 65_535, mode=6), id="bomb-png-rgba-max-dimensions"),
        pytest.param(png_header(7_000, 6_000), id="bomb-png-just-over-the-limit"),
        pytest.param(gif_header(65_535, 65_535), id="bomb-gif-max-screen"),
        pytest.param(screenshot_png(1)[:120], id="truncated-png-in-the-pixels"),
        pytest.param(screenshot_png(1)[:40], id="truncated-png-in-the-header"),
        pytest.param(encoded("JPEG")[:600], id="truncated-jpeg"),
        pytest.param(encoded("GIF")[:30], id="truncated-gif"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\xff" * 200, id="corrupt-png-chunks"),
        pytest.param(png_header(10, 10, idat=b"not zlib at all"), id="corrupt-png-pixel-data"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 300, id="corrupt-jpeg"),
        pytest.param(b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 40, id="corrupt-webp"),
        pytest.param(png_header(0, 10), id="zero-width"),
        pytest.param(b"just some text", id="not-an-image"),
        pytest.param(b"", id="empty"),
    ],
)
def test_unsafe_or_unreadable_image_gives_no_thumbnail(content: bytes) -> None:
    assert render_thumbnail(content) is None


def test_a_readable_image_over_the_pixel_limit_is_refused_undecoded(monkeypatch: pytest.MonkeyPatch) -> None:
    big = encoded("PNG", (7_000, 6_000), mode="1")  # 42 megapixels, a few kilobytes
    assert render_thumbnail(big) is None

    monkeypatch.setattr("media.thumbnails.MAX_PIXELS", 50_000_000)
    assert render_thumbnail(big) is not None


def test_the_pixel_limit_sits_below_pillows_own() -> None:
    # Pillow only warns up to twice its limit; ours refuses well before it warns.
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        pytest.param(encoded("PNG"), (320, 213), id="png-landscape"),
        pytest.param(encoded("PNG", (300, 900)), (107, 320), id="png-portrait"),
        pytest.param(encoded("PNG", (100, 50)), (100, 50), id="png-smaller-than-a-thumbnail"),
        pytest.param(encoded("PNG", mode="RGBA"), (320, 213), id="png-transparent"),
        pytest.param(encoded("PNG", mode="P"), (320, 213), id="png-palette"),
        pytest.param(encoded("PNG", mode="LA"), (320, 213), id="png-grey-alpha"),
        pytest.param(encoded("PNG", mode="I;16"), (320, 213), id="png-16-bit-grey"),
        pytest.param(encoded("JPEG"), (320, 213), id="jpeg"),
        pytest.param(encoded("JPEG", mode="CMYK"), (320, 213), id="jpeg-cmyk"),
        pytest.param(jpeg_rotated(), (213, 320), id="jpeg-exif-rotated"),
        pytest.param(encoded("GIF"), (320, 213), id="gif"),
        pytest.param(encoded("WEBP"), (320, 213), id="webp"),
    ],
)
def test_thumbnail_is_a_small_reencoded_webp(content: bytes, shown: tuple[int, int]) -> None:
    thumbnail = render_thumbnail(content)

    assert thumbnail is not None
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert (image.format, image.size) == ("WEBP", shown)
    assert max(shown) <= THUMBNAIL_SIZE


def _overwrite_bytes(file: File, content: bytes) -> None:
    """Replace a stored file's bytes (as a damaged disk or a tampered bucket would)."""
    storage = file.blob.storage
    storage.delete(file.blob.name)
    storage.save(file.blob.name, ContentFile(content))


def test_thumbnail_is_kept_in_storage_and_reused(django_assert_num_queries: Any) -> None:
    file = FileFactory(content=encoded("PNG"))
    storage = file.blob.storage

    first = file_thumbnail(file)
    _overwrite_bytes(file, b"gone")  # a second render would fail: the kept thumbnail is read instead

    assert first is not None
    assert storage.exists(thumbnail_name(file))
    assert file_thumbnail(file) == first


def test_refused_image_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    file = FileFactory()
    _overwrite_bytes(file, png_header(50_000, 50_000))
    assert file_thumbnail(file) is None

    def must_not_run(content: bytes) -> bytes | None:
        raise AssertionError("decoded again")

    monkeypatch.setattr("media.thumbnails.render_thumbnail", must_not_run)
    assert file_thumbnail(file) is None
    assert cache.get(f"thumbnail-refused:{file.sha256}")


def test_missing_bytes_give_no_thumbnail() -> None:
    file = FileFactory()
    file.blob.storage.delete(file.blob.name)

    assert file_thumbnail(file) is None


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(png_header(50_000, 50_000), id="bomb"),
        pytest.param(screenshot_png(3)[:120], id="truncated"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\xff" * 200, id="corrupt"),
    ],
)
def test_admin_thumbnail_of_a_hostile_image_is_the_placeholder(admin_client: Client, content: bytes) -> None:
    file = FileFactory()
    _overwrite_bytes(file, content)

    r = admin_client.get(reverse("admin:media_file_thumbnail", args=[file.pk]))

    assert r.status_code == 200, r.content
    assert r["Content-Type"] == "image/svg+xml"
    assert b"no preview" in r.content
    assert r["Cache-Control"] == "private, max-age=3600"
