"""What a file is, read from its bytes, and how large each kind may be (docs/api.md#files-and-evidence).

The type is never taken from the name or from what the client declares: the first bytes
decide, and a declared type can only agree or be refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import filetype
from isal.isal_zlib import crc32  # ISA-L's CRC-32: zlib's checksum at 16 times its speed here

from serverops.conf import serverops_setting

# filetype reads at most this much of a file; the upload handler sniffs the same amount.
SNIFF_BYTES = 8192


class Kind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


ALLOWED_TYPES: dict[str, Kind] = {
    "image/png": Kind.IMAGE,
    "image/jpeg": Kind.IMAGE,
    "image/gif": Kind.IMAGE,
    "image/webp": Kind.IMAGE,
    "video/mp4": Kind.VIDEO,
    "video/webm": Kind.VIDEO,
    "video/quicktime": Kind.VIDEO,
    "audio/mpeg": Kind.AUDIO,
    "audio/ogg": Kind.AUDIO,
    "audio/wav": Kind.AUDIO,
    "application/pdf": Kind.DOCUMENT,
    "text/plain": Kind.DOCUMENT,
    "application/json": Kind.DOCUMENT,
}

# filetype's names for what the contract calls otherwise (an APNG is a PNG to every viewer).
_CANONICAL = {"image/apng": "image/png", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav"}
# Names clients commonly declare for an allowed type.
_DECLARED_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/apng": "image/png",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "text/json": "application/json",
}

UNKNOWN = "application/octet-stream"
JSON_CANDIDATE = "application/json?"
HTML = "text/html"
SVG = "image/svg+xml"

# Text that a browser would take for markup (the WHATWG sniffing patterns, and SVG/XML):
# never let it pass as text/plain, whatever header it is later served with.
_MARKUP = re.compile(
    rb"^\s*<(?:!doctype|html|head|body|script|iframe|svg|\?xml|!--|style|title|object|embed|a|b|p|br|div|font|table|h1)"
    rb"(?:[\s/>]|$)",
    re.IGNORECASE,
)
MARKUP_ANYWHERE = re.compile(rb"<(?:script|svg|html|iframe|object|embed|!doctype)[\s/>]", re.IGNORECASE)
# The longest match of MARKUP_ANYWHERE: what a streaming scan keeps of one chunk for the next.
MARKUP_SPAN = len(b"<!doctype ")
# Markup that opens with an <svg> element (after an XML prolog or an SVG doctype): named as what it
# is when refused, not as HTML.
_SVG_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!doctype\s+svg[^>]*>\s*)?<svg[\s/>]", re.IGNORECASE)
# C0 controls other than tab, newline, form feed, carriage return and escape (ANSI colours in logs).
_BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def sniff(head: bytes) -> str:
    """The media type the first bytes announce.

    Signatures first (images, video, audio, PDF and everything filetype knows, allowed or
    not); then UTF-8 text: text that opens like JSON is ``application/json?`` whatever strings
    it holds (the whole file decides, see ``media.services.ContentInspector``); markup is
    ``image/svg+xml`` when it opens with ``<svg>``, else ``text/html``; other text is
    ``text/plain``; anything else is ``application/octet-stream``.
    """
    kind = filetype.guess(head[:SNIFF_BYTES])
    if kind is not None:
        return _CANONICAL.get(kind.mime, str(kind.mime))
    text = head[:SNIFF_BYTES]
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    if not _is_utf8_text(text):
        return UNKNOWN
    if text.lstrip()[:1] in (b"{", b"["):
        return JSON_CANDIDATE
    if _MARKUP.match(text) or MARKUP_ANYWHERE.search(text):
        return SVG if _SVG_ROOT.match(text) else HTML
    return "text/plain"


def _is_utf8_text(sample: bytes) -> bool:
    if not sample or _BINARY_CONTROLS.search(sample):
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off by the end of the sample is still text.
        if exc.start < len(sample) - 3 or exc.reason != "unexpected end of data":
            return False
    return True


def canonical_declared(declared: str) -> str:
    """A declared ``Content-Type`` reduced to the name this service uses: no parameters, lower case."""
    base = declared.split(";", 1)[0].strip().lower()
    return _DECLARED_ALIASES.get(base, base)


@dataclass(frozen=True)
class Limits:
    """The size limit of each kind, in bytes (``MEDIA_MAX_*_SIZE`` settings)."""

    image: int
    video: int
    audio: int
    document: int

    @classmethod
    def current(cls) -> Limits:
        return cls(
            image=serverops_setting("MEDIA_MAX_IMAGE_SIZE"),
            video=serverops_setting("MEDIA_MAX_VIDEO_SIZE"),
            audio=serverops_setting("MEDIA_MAX_AUDIO_SIZE"),
            document=serverops_setting("MEDIA_MAX_DOCUMENT_SIZE"),
        )

    def for_kind(self, kind: Kind) -> int:
        limit: int = getattr(self, kind.value)
        return limit

    @property
    def largest(self) -> int:
        return max(self.image, self.video, self.audio, self.document)


class BrokenPng(ValueError):
    """The bytes are not a whole PNG: a chunk is cut off, has a bad CRC-32 or a name that is no chunk's."""


_PNG_SIGNATURE = 8
_CHUNK_NAME = re.compile(rb"\w\w\w\w")  # Pillow's test of a chunk's name (PngImagePlugin.is_cid)


class PngChunks:
    """A PNG's chunks and their CRC-32s, checked as the bytes stream past, in the pass that hashes them.

    What Pillow's ``verify`` checks after its ``open``, without reading the file again: every
    chunk's name is four letters, digits or underscores, every chunk up to ``IEND`` is whole and
    its CRC-32 matches, and the file does not end before ``IEND`` (what follows ``IEND`` is not
    read, as Pillow does not read it). ``feed`` raises ``BrokenPng`` as soon as the bytes decide;
    ``finish`` when they ended before ``IEND``. The header (signature, ``IHDR``, the size Pillow
    will decode) is left to ``Image.open``, which reads only the chunks before the image data
    (``media.services.verify_structure``). Memory: a chunk header's 8 bytes at most, whatever the size.
    """

    __slots__ = ("_crc", "_name", "_need", "_pending", "_remaining", "_state", "done")

    def __init__(self) -> None:
        self._state = "signature"  # then "header", "data", "crc" in turn, until IEND
        self._need = _PNG_SIGNATURE  # bytes still wanted by the signature, a header or a CRC
        self._pending = b""  # what has come of them so far
        self._remaining = 0  # bytes of the current chunk's data still to come
        self._name = b""
        self._crc = 0
        self.done = False  # IEND reached

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        at, end = 0, len(data)
        while at < end and not self.done:
            if self._state == "data":
                take = min(self._remaining, end - at)
                self._crc = crc32(view[at : at + take], self._crc)
                self._remaining -= take
                at += take
                if not self._remaining:
                    self._state, self._need = "crc", 4
                continue
            take = min(self._need, end - at)
            self._pending += view[at : at + take]
            self._need -= take
            at += take
            if not self._need:
                self._complete(self._pending)
                self._pending = b""

    def _complete(self, field: bytes) -> None:
        if self._state == "crc":
            if int.from_bytes(field, "big") != self._crc:
                raise BrokenPng(f"bad CRC-32 in chunk {self._name!r}")
            self._state, self._need = "header", 8
        elif self._state == "header":
            self._name = field[4:]
            if not _CHUNK_NAME.fullmatch(self._name):
                raise BrokenPng(f"no chunk is named {self._name!r}")
            if self._name == b"IEND":
                self.done = True
                return
            self._remaining = int.from_bytes(field[:4], "big")
            self._crc = crc32(self._name)
            self._state, self._need = ("data", 0) if self._remaining else ("crc", 4)
        else:  # the signature, which sniffing has already read
            self._state, self._need = "header", 8

    def finish(self) -> None:
        if not self.done:
            raise BrokenPng("the file ends before its IEND chunk")
