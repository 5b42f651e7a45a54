"""Reading upload bodies: multipart streamed through an upload handler, base64 inside a bounded JSON body.

A limit is a handler that stops reading, not a check once the body is in (Django's
``FileUploadHandler``): the part named ``file`` is kept chunk by chunk while ``ContentInspector``
counts, hashes and sniffs it, and the first chunk past the type's limit, or the first bytes that
are not an allowed type, end the request. Like Django's own handlers, a body of up to
``FILE_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB by default: a screenshot) keeps its file in memory, and
a larger one streams it to a temporary file, holding one chunk at a time whatever the size. A
refused upload leaves neither a stored object nor a temporary file.
"""

from __future__ import annotations

import html
import io
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import IO, Any, cast

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser, DataAndFiles

from serverops.bodies import upload_body
from serverops.exceptions import PayloadTooLarge
from serverops.parsers import StrictJSONParser, whole_number

from .content import Limits
from .errors import FileTooLarge
from .services import ContentFacts, ContentInspector, clean_original_name

FILE_PART = "file"
MIB = 1024 * 1024
BASE64_BODY_LIMIT = 14 * MIB
BASE64_FILE_LIMIT = 10 * MIB
# How much of the body BodyPartsOnly reads from the server at a time.
BLOCK = 256 * 1024


def _invalid(param: str, message: str) -> ValidationError:
    return ValidationError({param: [message]})


class HeldChunks(io.RawIOBase):
    """Bytes held as the chunks they arrived in, readable and seekable as one file without
    joining them (a join is a copy of the whole file into fresh memory)."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self.pieces = chunks
        self._starts = [0, *accumulate(len(chunk) for chunk in chunks)]
        self._size = self._starts[-1]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        parts = []
        index = bisect_right(self._starts, self._pos) - 1
        while self._pos < end:
            chunk, start = self.pieces[index], self._starts[index]
            cut = chunk[self._pos - start : end - start]
            parts.append(cut)
            self._pos += len(cut)
            index += 1
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class HeldUploadedFile(UploadedFile[bytes]):
    """An upload held in memory as its chunks (``HeldChunks``), which it hands on as they are
    when stored: the file system storage writes them one by one, copying nothing."""

    def __init__(self, held: HeldChunks, name: str, content_type: str, size: int, charset: str | None) -> None:
        super().__init__(cast(IO[bytes], held), name, content_type, size, charset)
        self.held = held

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        yield from self.held.pieces

    def multiple_chunks(self, chunk_size: int | None = None) -> bool:
        return len(self.held.pieces) > 1


class InspectingUploadHandler(FileUploadHandler):
    """Keeps the one part named ``file`` (in memory or in a temporary file, by the body's size)
    while ``ContentInspector`` reads it.

    Refuses, before reading the body, a ``Content-Length`` above the largest limit plus room for
    the form's other fields; refuses a second ``file`` part or a file part under another name;
    and refuses the file itself as soon as its bytes decide (415, or 413 once past its type's
    limit). ``facts`` holds size, SHA-256 and type of a file read to its end.
    """

    # What Django's parser reads at a time and hands each handler: BodyPartsOnly's whole block, so
    # it hands on the server's reads without copying them, and each layer of the parser and of the
    # checks runs a quarter as often as at Django's 64 KiB.
    chunk_size = BLOCK

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limits = Limits.current()
        self.inspector: ContentInspector | None = None
        self.in_memory = False
        # The file's chunks as the parser handed them (the server's reads, not copied), or the
        # temporary file they go to.
        self.chunks: list[bytes] | None = None
        self.file: TemporaryUploadedFile | None = None
        self.facts: ContentFacts | None = None
        self.original_name = ""

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # The other form fields are bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.
        room = self.limits.largest + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MIB) + 64 * 1024
        if content_length > room:
            raise FileTooLarge(f"request body of {content_length:,} bytes is larger than any allowed file")
        self.in_memory = content_length <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != FILE_PART:
            raise _invalid(field_name, "unexpected file part; send the file in the part named file")
        if self.inspector is not None:
            self.discard()
            raise _invalid(FILE_PART, "send exactly one part named file")
        # Checked before anything is written, and kept: UploadedFile would silently shorten it.
        self.original_name = clean_original_name(file_name)
        self.inspector = ContentInspector(declared=content_type or None, limits=self.limits)
        if self.in_memory:
            self.chunks = []
        else:
            self.file = TemporaryUploadedFile(self.original_name, content_type, 0, charset, content_type_extra)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        assert self.inspector is not None
        try:
            self.inspector.feed(raw_data)
        except Exception:
            self.discard()
            raise
        if self.chunks is not None:
            self.chunks.append(raw_data)
        else:
            assert self.file is not None
            self.file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile[bytes] | None:
        assert self.inspector is not None
        try:
            self.facts = self.inspector.finish()
        except Exception:
            self.discard()
            raise
        if self.chunks is not None:
            held, self.chunks = HeldChunks(self.chunks), None
            return HeldUploadedFile(held, self.original_name, self.content_type or "", file_size, self.charset)
        assert self.file is not None
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Drop the chunks kept, or close and so delete the temporary file (a NamedTemporaryFile
        goes when closed)."""
        self.chunks = None
        if self.file is not None:
            self.file.close()


class _RawNameMultiPartParser(DjangoMultiPartParser):
    """Django's parser, except that file names reach the service as sent: Django would silently
    drop path parts and unprintable characters, and drop a part named ``..`` altogether, where
    the API refuses such a name with a 400 (``media.services.clean_original_name``)."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        return html.unescape(file_name) or None


class BodyPartsOnly:
    """A multipart body without its preamble and epilogue, which RFC 2046 §5.1.1 says to ignore.

    Django's parser reads whatever precedes the first delimiter and follows the closing one as
    parts of their own, so a part hidden there would be stored though a proxy or scanner that
    follows the RFC never sees it. Streams: holds one block of the underlying body and a
    delimiter's length of overlap, whatever the size.

    The body is read from the server in blocks of ``BLOCK`` bytes, whatever size the parser asks
    for, and handed out as slices of the block (the whole block when the parser asks for as much,
    as ``InspectingUploadHandler`` makes it): gunicorn's reader copies what it holds beyond each
    read again on every read, so small reads copy every byte several times over (bench/PROFILE.md,
    section 16). Each block is searched once for the closing delimiter and cut
    where it ends; the few bytes kept from the previous block find a closing delimiter split
    across two blocks.
    """

    def __init__(self, stream: IO[bytes], boundary: bytes, *, block: int = BLOCK) -> None:
        self._stream = stream
        self._block_size = block
        self._delimiter = b"\r\n--" + boundary
        self._close = self._delimiter + b"--"
        # Until the first delimiter: what may still hold its start. The first delimiter may open
        # the body, with no line break before it.
        self._preamble: bytes | None = b"\r\n"
        self._tail = b""  # the last bytes passed on, fewer than a closing delimiter's length
        self._out = b""  # the block being handed out, from ``_at`` on
        self._at = 0
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(self._block_size), b""))
        if self._at >= len(self._out):
            self._out, self._at = self._next_block(), 0
        start, self._at = self._at, self._at + size
        if start == 0 and self._at >= len(self._out):
            return self._out  # the whole block: no copy
        return self._out[start : self._at]

    def _next_block(self) -> bytes:
        """The next stretch of the body's parts: empty once the closing delimiter or the end was read."""
        if self._preamble is not None:
            return self._skip_preamble()
        if self._ended:
            return b""
        more = self._stream.read(self._block_size)
        if not more:
            self._ended = True
            return more
        return self._up_to_close(more)

    def _skip_preamble(self) -> bytes:
        """The body from its first delimiter on (the delimiter's leading line break dropped), as
        far as the read that found it, or nothing when there is no delimiter at all."""
        assert self._preamble is not None
        keep = len(self._delimiter) - 1
        while (start := self._preamble.find(self._delimiter)) < 0:
            more = self._stream.read(self._block_size)
            if not more:
                self._preamble, self._ended = None, True
                return b""
            self._preamble = self._preamble[-keep:] + more
        body, self._preamble = self._preamble[start:], None
        # Cut with its line break, so a first delimiter that closes the body is found as such.
        return self._up_to_close(body)[2:]

    def _up_to_close(self, data: bytes) -> bytes:
        """``data`` up to the end of the closing delimiter, if it ends in ``data``; then the body has ended."""
        span = len(self._close) - 1
        end = -1
        if self._tail:
            # A delimiter that starts in the kept bytes comes before any that starts in ``data``.
            joined = (self._tail + data[:span]).find(self._close)
            if joined >= 0:
                end = joined + len(self._close) - len(self._tail)
        if end < 0:
            at = data.find(self._close)
            end = at + len(self._close) if at >= 0 else -1
        if end >= 0:
            self._ended = True
            return data[:end]
        self._tail = (self._tail + data)[-span:] if len(data) < span else data[-span:]
        return data


class MediaMultiPartParser(BaseParser):
    """``multipart/form-data`` for ``POST /v1/media``, read through the request's upload handlers
    (the body parts only: ``BodyPartsOnly``)."""

    media_type = "multipart/form-data"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles:  # type: ignore[type-arg]
        context = parser_context or {}
        request = context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        boundary = parse_header_parameters(media_type or "")[1].get("boundary", "")
        # DRF hands the request itself, which Django reads; without a usable boundary, Django's
        # parser refuses the body itself.
        # Under gunicorn, the body straight from the socket rather than through wsgi.input's copies.
        raw: Any = upload_body(request) or stream
        body: Any = BodyPartsOnly(raw, boundary.encode()) if boundary.isascii() and boundary else raw
        try:
            parser = _RawNameMultiPartParser(
                meta,
                body,
                request.upload_handlers,
                context.get("encoding", settings.DEFAULT_CHARSET),
            )
            data, files = parser.parse()
        except MultiPartParserError:
            # Django's parser tells the handlers only of an upload it stops itself: a body found
            # malformed halfway through a file part would leave its temporary file to the collector.
            for handler in request.upload_handlers:
                handler.upload_interrupted()
            raise ParseError("request body is not valid multipart/form-data") from None
        return DataAndFiles(data, files)


class Base64JSONParser(BaseParser):
    """JSON for ``POST /v1/media/base64``, up to 14 MiB instead of the API's 1 MiB.

    Reads the body itself (DRF would read ``request.body``, bounded by the global
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``), refusing a ``Content-Length`` over the limit before
    reading and never reading more than one byte past it; the JSON rules are the API's own.
    """

    media_type = "application/json"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        too_large = PayloadTooLarge(f"request body is larger than {BASE64_BODY_LIMIT // MIB} MiB")
        request = (parser_context or {}).get("request")
        declared = whole_number(str(request.META.get("CONTENT_LENGTH") or "")) if request is not None else None
        if declared is not None and declared > BASE64_BODY_LIMIT:
            raise too_large
        raw: Any = (upload_body(request) if request is not None else None) or stream
        body = raw.read(BASE64_BODY_LIMIT + 1)
        if len(body) > BASE64_BODY_LIMIT:
            raise too_large
        return StrictJSONParser().parse(io.BytesIO(body), media_type, parser_context)
