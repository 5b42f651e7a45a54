"""Thumbnails of image files for the admin: made server-side with Pillow, kept in storage.

The bytes are a stranger's, so a thumbnail is never a way to crash or stall the admin: an
image whose header claims more than ``MAX_PIXELS`` (a decompression bomb), or that Pillow
cannot read (truncated, corrupt, lying about its type), gets ``None`` and the admin shows a
placeholder. Each thumbnail is re-encoded from decoded pixels (never the upload's own bytes)
and kept in the file's storage under ``thumbnails/``, keyed by the content's SHA-256 and size,
so the same bytes are decoded once whichever file holds them; a refusal is remembered in
the cache for a day so a hostile file is not decoded again on every page view.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings

from django.core.cache import cache
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

from .models import File

logger = logging.getLogger(__name__)

THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Longest side of a thumbnail, in pixels (the admin shows them at up to half that, sharp on HiDPI).
THUMBNAIL_SIZE = 320
# Pixels an image may declare before it is refused undecoded: 40 megapixels holds any screenshot
# (8K is 33 MP) and keeps the decoded image of one request near 160 MB at worst.
MAX_PIXELS = 40_000_000
REFUSED_FOR = 24 * 60 * 60

# What Pillow raises on hostile or broken bytes, from opening the header to decoding the pixels.
UNREADABLE = (
    OSError,  # UnidentifiedImageError, "image file is truncated", decoder errors
    SyntaxError,  # some plugins' "not a … file"
    ValueError,
    TypeError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


def thumbnail_name(file: File) -> str:
    return f"thumbnails/{file.sha256[:2]}/{file.sha256}-{THUMBNAIL_SIZE}.webp"


def file_thumbnail(file: File) -> bytes | None:
    """A small WebP of ``file``'s image, or None when it is not an image that can be shown safely."""
    if file.content_type not in THUMBNAIL_TYPES:
        return None
    refused_key = f"thumbnail-refused:{file.sha256}"
    if cache.get(refused_key):
        return None
    storage = file.blob.storage
    name = thumbnail_name(file)
    if storage.exists(name):
        with storage.open(name, "rb") as kept:
            data: bytes = kept.read()
        return data
    try:
        with file.blob.open("rb") as source:
            rendered = render_thumbnail(source.read())
    except FileNotFoundError:
        return None
    if rendered is None:
        logger.warning("no thumbnail for file %s: the image cannot be decoded safely", file.pk)
        cache.set(refused_key, True, REFUSED_FOR)
        return None
    if not storage.exists(name):
        storage.save(name, ContentFile(rendered))
    return rendered


def render_thumbnail(content: bytes) -> bytes | None:
    """``content`` decoded, cut down to ``THUMBNAIL_SIZE`` and re-encoded as WebP; None when unsafe or unreadable."""
    with warnings.catch_warnings():
        # Pillow warns (rather than refuses) between its limit and twice it: refuse here too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS or width <= 0 or height <= 0:
                    return None
                image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # JPEG: decode at a reduced scale
                image.load()
                shown = ImageOps.exif_transpose(image)
                shown.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
                if shown.mode not in ("RGB", "RGBA"):
                    shown = shown.convert("RGBA" if "A" in shown.getbands() or "transparency" in shown.info else "RGB")
                out = io.BytesIO()
                shown.save(out, format="WEBP", quality=80)
        except UNREADABLE:
            return None
    return out.getvalue()
