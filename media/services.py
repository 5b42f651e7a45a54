"""Writes to files: the one place their rules run, for the API, the admin and the commands."""

from __future__ import annotations

import codecs
import hashlib
import logging
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import ijson
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image

from serverops.exceptions import InvalidValue
from tokens.models import Mode, Project

from .content import (
    ALLOWED_TYPES,
    HTML,
    JSON_CANDIDATE,
    MARKUP_ANYWHERE,
    MARKUP_SPAN,
    SNIFF_BYTES,
    UNKNOWN,
    BrokenPng,
    Kind,
    Limits,
    PngChunks,
    canonical_declared,
    sniff,
)
from .errors import FileInUse, FileTooLarge, UnsupportedType
from .models import FOLDER_MAX_LENGTH, KEY_MAX_LENGTH, ORIGINAL_NAME_MAX_LENGTH, AbuseStatus, File, Visibility
from .signals import file_changed
from .storage import file_apply_access

CHUNK_SIZE = 64 * 1024
logger = logging.getLogger(__name__)


def _invalid(param: str, message: str) -> InvalidValue:
    return InvalidValue(param, message)


def clean_original_name(name: str, *, param: str = "file") -> str:
    """A file's name as a client sent it, when it is a base name: no directory part (``/`` or
    ``\\``: ``../../x.png``, ``C:\\x\\y.png``), no control characters, at most 255 characters.

    Raises a 400 naming ``param`` otherwise (also for ``.``, ``..`` and names over 255 bytes in
    UTF-8, which is what file systems allow a name): refusing tells a client more than a
    silently renamed file, and the key built from it can never leave the project's prefix.
    """
    if _has_controls(name):
        raise _invalid(param, "file name must not contain control characters")
    if "/" in name or "\\" in name:
        raise _invalid(param, "file name must be a base name, without directories")
    base = unicodedata.normalize("NFC", name.strip())
    if base in ("", ".", ".."):
        raise _invalid(param, "file name is missing")
    if len(base) > ORIGINAL_NAME_MAX_LENGTH or len(base.encode()) > ORIGINAL_NAME_MAX_LENGTH:
        raise _invalid(param, f"file name must be at most {ORIGINAL_NAME_MAX_LENGTH} characters")
    return base


@dataclass(frozen=True)
class ContentFacts:
    size: int
    sha256: str
    content_type: str
    # A PNG's chunks and CRC-32s were checked as the bytes were read (``PngChunks``):
    # ``verify_structure`` then opens the header and does not read the file again.
    chunks_checked: bool = False


class _JsonSink:
    def send(self, event: Any) -> None:
        pass


class ContentInspector:
    """Reads a file once, chunk by chunk: its size, its SHA-256 and its type from the bytes.

    Refuses as early as the bytes allow: a type that is not allowed or not the declared one
    once the first ``SNIFF_BYTES`` are in (415), a size past the type's limit as soon as
    the count passes it (413). Text is checked as UTF-8 to its last byte; text that opens
    like JSON is ``application/json`` only if the whole of it parses (in the same pass,
    with ijson's push parser, so memory stays flat whatever the size). Markup is looked for
    in the whole of any text, so where it sits never changes the answer: JSON may quote it,
    other text holding it is ``text/html`` (415). A PNG's chunks and their CRC-32s are checked
    in the same pass (``PngChunks``): a broken one is a 415 as soon as the bytes show it.
    """

    def __init__(self, *, declared: str | None = None, limits: Limits | None = None) -> None:
        self.declared = canonical_declared(declared) if declared else None
        self.limits = limits or Limits.current()
        self.limit = self.limits.largest
        self.size = 0
        self.head = b""
        self.content_type: str | None = None
        self._digest = hashlib.sha256()
        self._text: codecs.IncrementalDecoder | None = None
        self._json: Any = None
        self._json_valid = True
        self._markup = False
        self._markup_tail = b""
        self._png: PngChunks | None = None

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise FileTooLarge(self._too_large_message())
        self._digest.update(chunk)
        if self.content_type is None:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
            if len(self.head) >= SNIFF_BYTES:
                self._decide(self.head)
                self._check_text(self.head_rest(chunk))
                self._check_png(self.head_rest(chunk))
            return
        if self._png is not None:
            self._check_png(chunk)
        else:
            self._check_text(chunk)

    def head_rest(self, chunk: bytes) -> bytes:
        """Everything fed so far that the text checks have not seen: the whole head on the chunk that completed it."""
        return self.head + chunk[SNIFF_BYTES - (self.size - len(chunk)) :] if self.size > len(chunk) else chunk

    def finish(self) -> ContentFacts:
        if self.size == 0:
            raise _invalid("file", "file is empty")
        if self.content_type is None:
            self._decide(self.head)
            self._check_text(self.head)
            self._check_png(self.head)
        assert self.content_type is not None
        if self._png is not None:
            try:
                self._png.finish()
            except BrokenPng:
                raise _broken_image("image/png") from None
        if self._text is not None:
            try:
                self._text.decode(b"", final=True)
            except UnicodeDecodeError:
                self._refuse_type(UNKNOWN)
        content_type = self.content_type
        if content_type == JSON_CANDIDATE:
            content_type = "application/json" if self._json_done() else "text/plain"
            if content_type == "text/plain" and self._markup:
                self._refuse_type(HTML)
            self._check_declared(content_type)
        return ContentFacts(
            size=self.size,
            sha256=self._digest.hexdigest(),
            content_type=content_type,
            chunks_checked=self._png is not None,
        )

    def _decide(self, head: bytes) -> None:
        sniffed = sniff(head)
        if sniffed != JSON_CANDIDATE and sniffed not in ALLOWED_TYPES:
            self._refuse_type(sniffed)
        self._check_declared(sniffed)
        self.content_type = sniffed
        self.limit = self.limits.for_kind(ALLOWED_TYPES["application/json" if sniffed == JSON_CANDIDATE else sniffed])
        if self.size > self.limit:
            raise FileTooLarge(self._too_large_message())
        if sniffed in ("text/plain", JSON_CANDIDATE):
            self._text = codecs.getincrementaldecoder("utf-8")()
        if sniffed == JSON_CANDIDATE:
            self._json = ijson.basic_parse_coro(_JsonSink())
        if sniffed == "image/png":
            self._png = PngChunks()

    def _check_png(self, data: bytes) -> None:
        if self._png is None or self._png.done:
            return
        try:
            self._png.feed(data)
        except BrokenPng:
            raise _broken_image("image/png") from None

    def _check_text(self, data: bytes) -> None:
        if self._text is None or not data:
            return
        try:
            self._text.decode(data)
        except UnicodeDecodeError:
            self._refuse_type(UNKNOWN)
        if b"\x00" in data:
            self._refuse_type(UNKNOWN)
        if not self._markup:
            window = self._markup_tail + data
            self._markup = MARKUP_ANYWHERE.search(window) is not None
            self._markup_tail = window[-MARKUP_SPAN:]
            if self._markup and self._json is None:
                self._refuse_type(HTML)
        if self._json is not None and self._json_valid:
            try:
                self._json.send(data)
            except ijson.JSONError:
                self._json_valid = False

    def _json_done(self) -> bool:
        if not self._json_valid:
            return False
        try:
            self._json.close()
        except ijson.JSONError:
            return False
        return True

    def _check_declared(self, actual: str) -> None:
        if self.declared is None or self.declared in (actual, "application/octet-stream"):
            return
        if self.declared == "text/plain" and actual in ("application/json", JSON_CANDIDATE):
            return  # JSON is text: many clients send .json files as text/plain
        if actual == JSON_CANDIDATE and self.declared == "application/json":
            return  # decided once the whole file has been read
        shown = "application/json" if actual == JSON_CANDIDATE else actual
        raise UnsupportedType(f"declared type {self.declared} does not match the file's content ({shown})")

    def _refuse_type(self, sniffed: str) -> None:
        shown = "unrecognised binary data" if sniffed == UNKNOWN else sniffed
        raise UnsupportedType(
            f"file type {shown} is not allowed; send an image (png, jpeg, gif, webp), video (mp4, webm, "
            "quicktime), audio (mpeg, ogg, wav), pdf, plain text or JSON"
        )

    def _too_large_message(self) -> str:
        if self.content_type is None:
            return f"file is larger than any allowed type ({self.limit:,} bytes)"
        return f"file is larger than {self.limit:,} bytes, the limit for {self.content_type.rstrip('?')}"


def inspect_content(content: IO[bytes], *, declared: str | None = None) -> ContentFacts:
    """Read ``content`` from its start once, as ``ContentInspector`` does, then check its
    structure (``verify_structure``); leaves it rewound."""
    inspector = ContentInspector(declared=declared)
    content.seek(0)
    for chunk in iter(lambda: content.read(CHUNK_SIZE), b""):
        inspector.feed(chunk)
    facts = inspector.finish()
    verify_structure(content, facts.content_type, chunks_checked=facts.chunks_checked)
    return facts


def _broken_image(content_type: str) -> UnsupportedType:
    return UnsupportedType(f"file is not a valid {content_type} image (truncated or corrupt)")


def verify_structure(content: IO[bytes], content_type: str, *, chunks_checked: bool = False) -> None:
    """An image must open as the type its signature announced and pass Pillow's ``verify``
    (which walks the file's structure without decoding the pixels: a truncated PNG fails it);
    one with more pixels than Pillow's decompression-bomb bound is refused before any decoding.
    Other types are taken on their signature. Leaves ``content`` rewound.

    ``chunks_checked``: the PNG's chunks were checked as its bytes streamed in (``ContentInspector``,
    ``PngChunks``), which is all Pillow's PNG ``verify`` reads the file again for; Pillow then only
    opens it, reading the chunks before the image data."""
    if ALLOWED_TYPES.get(content_type) != Kind.IMAGE:
        return
    content.seek(0)
    try:
        with Image.open(content, formats=[content_type.split("/")[1].upper()]) as image:
            if not (chunks_checked and content_type == "image/png"):
                image.verify()
    except Image.DecompressionBombError:
        raise UnsupportedType(f"{content_type} image has more pixels than this service decodes") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _broken_image(content_type) from None
    finally:
        content.seek(0)


TAGS_MAX = 20
TAG_MAX_LENGTH = 64


def _has_control_characters(text: str) -> bool:
    """C0 and C1 controls and DEL (Unicode's Cc), and lone surrogates, which cannot be stored."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def _has_controls(text: str) -> bool:
    """``_has_control_characters``, and the invisible format and separator characters that can
    make a file name read as another (``gnp.\u202eexe``)."""
    # Cs: a lone surrogate (JSON can spell one) is no character at all and cannot be encoded.
    return any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in text)


def clean_tags(tags: Sequence[str]) -> list[str]:
    """At most 20 tags of 1–64 characters without control characters; repeats dropped, order kept."""
    if isinstance(tags, str) or not all(isinstance(tag, str) for tag in tags):
        raise _invalid("tags", "tags must be a list of strings")
    cleaned = list(dict.fromkeys(tags))
    if len(cleaned) > TAGS_MAX:
        raise _invalid("tags", f"at most {TAGS_MAX} tags")
    for tag in cleaned:
        if not 1 <= len(tag) <= TAG_MAX_LENGTH or _has_control_characters(tag):
            raise _invalid("tags", f"each tag must be 1–{TAG_MAX_LENGTH} characters without control characters")
    return cleaned


def clean_folder(folder: str) -> str:
    """0–200 characters without control characters (``""`` is the top level)."""
    if not isinstance(folder, str) or len(folder) > FOLDER_MAX_LENGTH or _has_control_characters(folder):
        raise _invalid("folder", f"folder must be at most {FOLDER_MAX_LENGTH} characters without control characters")
    return folder


def file_create(
    *,
    project: Project,
    mode: Mode | str,
    content: IO[bytes],
    original_name: str,
    declared_type: str | None = None,
    facts: ContentFacts | None = None,
    tags: Sequence[str] = (),
    folder: str = "",
    visibility: str = Visibility.PRIVATE,
) -> File:
    """Store ``content`` as a new file of ``project`` and ``mode``.

    Size, SHA-256 and type are read from the bytes (``facts`` when the upload handler already
    read them while the body streamed in); a type that is not allowed or disagrees with
    ``declared_type`` is a 415, a size past the type's limit a 413, a bad name, tag or folder
    a 400, and in each case nothing is stored. The key is ``<project id>/<file id>/<base name>``:
    it cannot leave the project's prefix.

    The bytes are stored first, then the row and its ``file.created`` event are inserted in one
    short transaction, which holds no lock while the bytes are written. A row therefore never
    names bytes that are not there; if the insert fails, the stored bytes are deleted again.
    Only a crash between the two leaves an object no row names, under a key no client was given
    (a transaction around both had the same window: its commit came after the bytes).
    """
    if visibility not in Visibility.values:
        raise _invalid("visibility", f"visibility must be one of {', '.join(Visibility.values)}")
    file = File(
        project=project,
        mode=mode,
        original_name=clean_original_name(original_name),
        tags=clean_tags(tags),
        folder=clean_folder(folder),
        visibility=visibility,
    )
    if facts is None:
        facts = inspect_content(content, declared=declared_type)
    else:
        verify_structure(content, facts.content_type, chunks_checked=facts.chunks_checked)
    file.size, file.sha256, file.content_type = facts.size, facts.sha256, facts.content_type
    file.key = file.blob.name = f"{project.pk}/{file.id}/{file.original_name}"
    content.seek(0)
    # An object store keeps the type read from the bytes as the object's own, never one guessed from the name.
    if isinstance(content, UploadedFile):
        # An upload handler's file: a temporary one the file system storage moves into place, or the
        # chunks held in memory (media.uploads.HeldUploadedFile), written as they are; no second copy.
        blob = content
        blob.content_type = facts.content_type
    else:
        blob = UploadedFile(content, name=file.original_name, content_type=facts.content_type, size=facts.size)
    storage = file.blob.storage
    stored = storage.save(file.key, blob, max_length=KEY_MAX_LENGTH)
    if stored != file.key:
        # A fresh file id makes a clash impossible; a storage that renamed anyway broke the key rule.
        _delete_quietly(storage, stored)
        raise RuntimeError(f"storage stored {file.key!r} as {stored!r}")
    try:
        if file.visibility == Visibility.PUBLIC:
            # Objects are written private; only a public file needs the store told otherwise.
            file_apply_access(file)
        # The row and its file.created event commit together (docs/api.md#event-types).
        with transaction.atomic():
            file.save(force_insert=True)
            file_changed.send(sender=File, file=file, change="created")
    except BaseException:
        # The bytes must not stay behind without their row.
        _delete_quietly(storage, file.key)
        raise
    return file


def _delete_quietly(storage: Storage, name: str) -> None:
    """Remove ``name`` from ``storage`` while another failure is on its way out; a store that
    cannot delete now (the failure is often the store's) leaves an object no row names, logged."""
    try:
        storage.delete(name)
    except Exception:
        logger.warning("could not remove %s after a failed upload", name, exc_info=True)


EDITABLE_FIELDS = ("tags", "folder", "visibility", "abuse_status")


@transaction.atomic
def file_update(
    *,
    file_id: str,
    changes: Mapping[str, Any],
    files: QuerySet[File] | None = None,
    reviewer: AbstractBaseUser | None = None,
) -> File:
    """Change a file's moderation fields (``tags``, ``folder``, ``visibility``, ``abuse_status``)
    under a row lock; only the fields that really change are written, with ``updated_at``.
    With ``reviewer`` (a staff user judging the file in the admin) the review is recorded too
    (``reviewed_by``, ``reviewed_at``), even when nothing changes; it does not move ``updated_at``.

    Raises ``File.DoesNotExist`` when ``file_id`` is not among ``files`` (all files by default)
    and a 400 naming the field for a value outside its rules.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned = dict(changes)
    if "tags" in cleaned:
        cleaned["tags"] = clean_tags(cleaned["tags"])
    if "folder" in cleaned:
        cleaned["folder"] = clean_folder(cleaned["folder"])
    if "visibility" in cleaned and cleaned["visibility"] not in Visibility.values:
        raise _invalid("visibility", f"visibility must be one of {', '.join(Visibility.values)}")
    if "abuse_status" in cleaned and cleaned["abuse_status"] not in AbuseStatus.values:
        raise _invalid("abuse_status", f"abuse_status must be one of {', '.join(AbuseStatus.values)}")
    file = (File.objects.all() if files is None else files).select_for_update(of=("self",)).get(pk=file_id)
    changed = [field for field, value in cleaned.items() if getattr(file, field) != value]
    if changed:
        for field in changed:
            setattr(file, field, cleaned[field])
        file.save(update_fields=[*changed, "updated_at"])
        if {"visibility", "abuse_status"} & set(changed):
            file_apply_access(file)
        if "abuse_status" in changed and file.abuse_status == AbuseStatus.BLOCKED:
            file_changed.send(sender=File, file=file, change="blocked")
    if reviewer is not None:
        file.reviewed_by_id, file.reviewed_at = reviewer.pk, timezone.now()
        File.objects.filter(pk=file.pk).update(reviewed_by_id=reviewer.pk, reviewed_at=file.reviewed_at)
    return file


@transaction.atomic
def file_delete(*, files: QuerySet[File], file_id: str) -> None:
    """Delete the file ``file_id`` among ``files`` and, once the transaction commits, its bytes.

    Raises ``File.DoesNotExist`` when it is not among ``files``, and a 409 naming a case
    when any case still lists it as evidence.
    """
    file = files.select_for_update().get(pk=file_id)
    listed_in = file.attachments.values_list("case_id", flat=True).order_by("case_id").first()
    if listed_in is not None:
        raise FileInUse(f"file {file.pk} is evidence in case {listed_in}; remove it from the case first")
    name = str(file.blob.name)
    storage = file.blob.storage
    file_changed.send(sender=File, file=file, change="deleted")
    file.delete()
    transaction.on_commit(lambda: storage.delete(name))
