"""Player identifiers (docs/api.md, "Players"): ``<type>:<value>``, parsed and written in one
canonical form, so that every spelling of one account is one stored string.

Pure: no database and no settings. The one input from outside is the installation's key for IP
addresses, which are never kept in clear: ``ip:~`` and the first 16 hex digits of a keyed
HMAC-SHA256 of the normalised address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

STEAM64_MIN = 76561197960265728
STEAM64_MAX = 76561202255233023
MAX_LENGTH = 200

STRONG_TYPES = ("steam", "license", "license2", "fivem", "xbl", "live", "roblox", "discord", "minecraft", "epic")
WEAK_TYPES = ("ip", "hwid")
TYPES = STRONG_TYPES + WEAK_TYPES

_DECIMAL = re.compile(r"[0-9]{1,20}")
_STEAM64 = re.compile(r"[0-9]{17}")
_STEAM_HEX = re.compile(r"[0-9a-fA-F]{15}")
_STEAM2 = re.compile(r"STEAM_([0-5]):([01]):([0-9]{1,10})")
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_SNOWFLAKE = re.compile(r"[0-9]{17,20}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_IP_SHOWN = re.compile(r"~[0-9a-f]{16}")
_HWID = re.compile(r"[A-Za-z0-9:_-]{1,128}")


class InvalidIdentifier(ValueError):
    """``raw`` is not an identifier of a known type in its type's form; the message quotes it."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"identifier {quote(raw)} {reason}")
        self.raw = raw


def quote(raw: str) -> str:
    """``raw`` for an error message: JSON-quoted (control characters escaped), cut at 80 characters."""
    return json.dumps(raw[:80] + ("…" if len(raw) > 80 else ""))


@dataclass(frozen=True, slots=True)
class Identifier:
    type: str
    value: str

    @property
    def strong(self) -> bool:
        """Names one account, so links and merges players; a weak one (ip, hwid) never does."""
        return self.type in STRONG_TYPES

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


def _steam(value: str) -> str | None:
    if _STEAM64.fullmatch(value):
        number = int(value)
    elif _STEAM_HEX.fullmatch(value):
        number = int(value, 16)
    elif match := _STEAM2.fullmatch(value):
        number = STEAM64_MIN + 2 * int(match[3]) + int(match[2])
    else:
        return None
    return str(number) if STEAM64_MIN <= number <= STEAM64_MAX else None


def _decimal(value: str) -> str | None:
    return str(int(value)) if _DECIMAL.fullmatch(value) else None


def _discord(value: str) -> str | None:
    # A snowflake is a 64-bit unsigned number written in decimal, at least 17 digits since 2015.
    if not _SNOWFLAKE.fullmatch(value) or value[0] == "0" or int(value) >= 2**64:
        return None
    return value


def _hex(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    def parse(value: str) -> str | None:
        return value.lower() if pattern.fullmatch(value) else None

    return parse


def _minecraft(value: str) -> str | None:
    if not _UUID.fullmatch(value) or value.count("-") not in (0, 4):
        return None
    digits = value.replace("-", "").lower()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _hwid(value: str) -> str | None:
    return value if _HWID.fullmatch(value) else None


def normalise_ip(value: str) -> str | None:
    """The address's one spelling: IPv6 compressed and lowercase, IPv4-mapped IPv6 as its IPv4; None if not one."""
    # ipaddress accepts an IPv6 zone ("fe80::1%eth0"), which names an interface, not a host.
    if "%" in value or not value.isascii():
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


def ip_digest(address: str, *, key: bytes) -> str:
    """The shown and stored form of a normalised address: ``~`` and 16 hex digits of its keyed HMAC."""
    return "~" + hmac.new(key, address.encode("ascii"), hashlib.sha256).hexdigest()[:16]


_PARSERS: dict[str, Callable[[str], str | None]] = {
    "steam": _steam,
    "license": _hex(_HEX40),
    "license2": _hex(_HEX40),
    "fivem": _decimal,
    "xbl": _decimal,
    "live": _decimal,
    "roblox": _decimal,
    "discord": _discord,
    "minecraft": _minecraft,
    "epic": _hex(_HEX32),
    "hwid": _hwid,
}


def parse(raw: object, *, ip_key: bytes) -> Identifier:
    """``raw`` (``type:value``, the type in any case) as its canonical Identifier.

    Raises ``InvalidIdentifier`` for anything that is not a string of a known type whose
    value has that type's form. ``ip_key`` is the installation's secret for addresses.
    """
    if not isinstance(raw, str):
        raise InvalidIdentifier(json.dumps(raw, default=lambda value: type(value).__name__), "is not a string")
    if len(raw) > MAX_LENGTH:
        raise InvalidIdentifier(raw, f"is longer than {MAX_LENGTH} characters")
    kind, separator, value = raw.partition(":")
    kind = kind.lower()
    if not separator or kind not in TYPES:
        raise InvalidIdentifier(raw, f"has no known type; write type:value with a type of {', '.join(TYPES)}")
    if kind == "ip":
        if _IP_SHOWN.fullmatch(value):
            return Identifier("ip", value)
        address = normalise_ip(value)
        if address is None:
            raise InvalidIdentifier(raw, "is not an IPv4 or IPv6 address")
        return Identifier("ip", ip_digest(address, key=ip_key))
    canonical = _PARSERS[kind](value)
    if canonical is None:
        raise InvalidIdentifier(raw, f"is not a valid {kind} identifier")
    return Identifier(kind, canonical)
