"""The API's JSON renderer: DRF's, with orjson writing the bytes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework import renderers

# Values orjson would write its own way (datetimes, dataclasses) go to DRF's encoder instead.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# The first byte of U+2028 and U+2029 in UTF-8 (E2 80 A8, E2 80 A9), which most bodies lack.
_LINE_SEPARATORS_LEAD = b"\xe2"


class JSONRenderer(renderers.JSONRenderer):
    """DRF's ``JSONRenderer``, encoding with orjson where it writes what DRF writes.

    The standard library's ``json`` took 0.59 ms for a page of 50 cases with their files on
    the benchmark machine, about a tenth of the request's CPU, and orjson 0.03 ms for the same
    bytes (bench/PROFILE.md, section 9). With the API's settings (``UNICODE_JSON``,
    ``COMPACT_JSON``, ``STRICT_JSON``) DRF writes compact UTF-8 and escapes U+2028 and U+2029,
    and so does this. Everything else goes to DRF's own path, unchanged: an indent asked for in
    ``Accept``, other settings, and any value orjson does not write itself (``Decimal``, lazy
    translations, datetimes, an integer beyond 64 bits, a string that is not valid UTF-8), which
    DRF's encoder turns into JSON or refuses as before. What is left differs only for floats,
    which the API's bodies carry none of: orjson spells a few alike numbers otherwise
    (``0.00001`` for ``1e-05``) and writes NaN and infinity as ``null`` where DRF refuses them.
    """

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if (
            data is not None
            and self.compact
            and not self.ensure_ascii
            and self.get_indent(accepted_media_type or "", renderer_context or {}) is None
        ):
            try:
                body = orjson.dumps(data, option=_ORJSON_OPTIONS)
            except TypeError:  # orjson.JSONEncodeError: a value only DRF's encoder knows
                pass
            else:
                if _LINE_SEPARATORS_LEAD not in body:  # memchr: 2 µs for a page of cases, each replace 50 µs
                    return body
                return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        rendered: bytes = super().render(data, accepted_media_type, renderer_context)
        return rendered
