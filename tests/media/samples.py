"""Small real files of every allowed type, and hostile ones, built in memory."""

from __future__ import annotations

import io
import json

from PIL import Image


def image(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def mp4(brand: bytes = b"isom") -> bytes:
    return _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"mp41") + _box(b"mdat", b"\x00" * 64)


def quicktime() -> bytes:
    return _box(b"ftyp", b"qt  \x00\x00\x02\x00qt  ") + _box(b"mdat", b"\x00" * 64)


def webm() -> bytes:
    # EBML header with DocType "webm", then padding standing in for the segment.
    return bytes.fromhex("1a45dfa3") + bytes.fromhex("9f4286810142f7810142f2810442f381084282847765626d") + b"\x00" * 64


def mp3() -> bytes:
    return b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + b"\xff\xfb\x90\x64" + b"\x00" * 200


def ogg() -> bytes:
    return b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 64


def wav() -> bytes:
    data = b"\x00\x00" * 100
    fmt = b"fmt " + (16).to_bytes(4, "little") + bytes.fromhex("0100010044ac000088580100020010 00".replace(" ", ""))
    body = b"WAVE" + fmt + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def text() -> bytes:
    return "2026-11-30 12:00:01 [anticheat] player Vex_TTV flagged: aim snap 41° in 12 ms\n".encode() * 20


def json_document() -> bytes:
    return json.dumps({"player": "Vex_TTV", "events": [{"t": 1, "kind": "snap"}] * 10}).encode()


ALLOWED = {
    "image/png": ("shot.png", image("PNG")),
    "image/jpeg": ("shot.jpg", image("JPEG")),
    "image/gif": ("shot.gif", image("GIF")),
    "image/webp": ("shot.webp", image("WEBP")),
    "video/mp4": ("clip.mp4", mp4()),
    "video/webm": ("clip.webm", webm()),
    "video/quicktime": ("clip.mov", quicktime()),
    "audio/mpeg": ("voice.mp3", mp3()),
    "audio/ogg": ("voice.ogg", ogg()),
    "audio/wav": ("voice.wav", wav()),
    "application/pdf": ("report.pdf", pdf()),
    "text/plain": ("server.log", text()),
    "application/json": ("events.json", json_document()),
}

PNG = ALLOWED["image/png"][1]
