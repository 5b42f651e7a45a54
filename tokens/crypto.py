"""Token format (docs/api.md#tokens-and-scopes): ``so_live_``/``so_test_``, 22 random characters, a checksum.

The checksum is the CRC32 of everything before it, in base62, left-padded to six
characters. It lets the service refuse a mistyped or made-up token without touching the
database, and lets a secret scanner recognise a leaked token offline.

At rest a token is only its SHA-256 digest. A fast unsalted digest is right here and
would be wrong for passwords: the 22 random characters carry ~131 bits of entropy, so
there is nothing to brute-force or look up in a table, and a slow hasher would cost
every API request milliseconds for no gain. The digest is unique and indexed, so
authentication is one indexed lookup.
"""

import hashlib
import re
import secrets
import string
import zlib
from typing import Literal

Mode = Literal["live", "test"]

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
PREFIXES: dict[str, Mode] = {"so_live_": "live", "so_test_": "test"}
RANDOM_LENGTH = 22
CHECKSUM_LENGTH = 6
TOKEN_RE = re.compile(r"so_(live|test)_[0-9A-Za-z]{28}")


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate(mode: Mode) -> str:
    prefix = f"so_{mode}_"
    body = prefix + "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def parse(token: str) -> Mode | None:
    """The token's mode when it is well formed and its checksum holds, else ``None``."""
    if not TOKEN_RE.fullmatch(token):
        return None
    body, check = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    if not secrets.compare_digest(checksum(body), check):
        return None
    return PREFIXES[token[:8]]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hint(token: str) -> str:
    """A display form that identifies a token to people without revealing it: ``so_live_Ab3…x9Qz``."""
    return f"{token[:11]}…{token[-4:]}"
