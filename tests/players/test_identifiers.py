"""Every identifier type: at least three spellings that are accepted (with the one form each is
stored in) and three that are refused."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from players.identifiers import STRONG_TYPES, TYPES, WEAK_TYPES, InvalidIdentifier, parse

KEY = b"test-key"
GABEN = "76561197960287930"  # Steam's own example account: STEAM_0:0:11101, hex 1100001000056ba


def _ip(address: str) -> str:
    return "ip:~" + hmac.new(KEY, address.encode(), hashlib.sha256).hexdigest()[:16]


VALID = [
    # steam: decimal, FiveM's hex, STEAM_X:Y:Z, the type in any case
    ("steam", f"steam:{GABEN}", f"steam:{GABEN}"),
    ("steam", "steam:1100001000056ba", f"steam:{GABEN}"),
    ("steam", "steam:1100001000056BA", f"steam:{GABEN}"),
    ("steam", "STEAM:STEAM_0:0:11101", f"steam:{GABEN}"),
    ("steam", "steam:STEAM_1:0:11101", f"steam:{GABEN}"),
    ("steam", "steam:STEAM_0:1:11101", "steam:76561197960287931"),
    ("steam", "steam:76561197960265728", "steam:76561197960265728"),
    ("steam", "steam:76561202255233023", "steam:76561202255233023"),
    ("license", "license:" + "A" * 40, "license:" + "a" * 40),
    ("license", "LICENSE:0123456789abcdef0123456789abcdef01234567", "license:0123456789abcdef0123456789abcdef01234567"),
    ("license", "license:" + "f0" * 20, "license:" + "f0" * 20),
    ("license2", "license2:" + "B" * 40, "license2:" + "b" * 40),
    ("license2", "License2:" + "0" * 40, "license2:" + "0" * 40),
    ("license2", "license2:" + "9a" * 20, "license2:" + "9a" * 20),
    ("fivem", "fivem:1234567", "fivem:1234567"),
    ("fivem", "fivem:0001234567", "fivem:1234567"),
    ("fivem", "FiveM:0", "fivem:0"),
    ("xbl", "xbl:2535412345678901", "xbl:2535412345678901"),
    ("xbl", "XBL:00042", "xbl:42"),
    ("xbl", "xbl:9" * 1, "xbl:9"),
    ("live", "live:914798351232", "live:914798351232"),
    ("live", "LIVE:0914798351232", "live:914798351232"),
    ("live", "live:" + "9" * 20, "live:" + "9" * 20),
    ("roblox", "roblox:1", "roblox:1"),
    ("roblox", "roblox:261", "roblox:261"),
    ("roblox", "Roblox:0000000261", "roblox:261"),
    ("discord", "discord:80351110224678912", "discord:80351110224678912"),
    ("discord", "DISCORD:1234567890123456789", "discord:1234567890123456789"),
    ("discord", "discord:18446744073709551615", "discord:18446744073709551615"),
    ("minecraft", "minecraft:069a79f444e94726a5befca90e38aaf5", "minecraft:069a79f4-44e9-4726-a5be-fca90e38aaf5"),
    ("minecraft", "minecraft:069A79F4-44E9-4726-A5BE-FCA90E38AAF5", "minecraft:069a79f4-44e9-4726-a5be-fca90e38aaf5"),
    ("minecraft", "MINECRAFT:069a79f4-44e9-4726-a5be-fca90e38aaf5", "minecraft:069a79f4-44e9-4726-a5be-fca90e38aaf5"),
    ("epic", "epic:" + "C" * 32, "epic:" + "c" * 32),
    ("epic", "epic:0123456789abcdef0123456789ABCDEF", "epic:0123456789abcdef0123456789abcdef"),
    ("epic", "EPIC:" + "e1" * 16, "epic:" + "e1" * 16),
    ("ip", "ip:203.0.113.7", _ip("203.0.113.7")),
    ("ip", "ip:::ffff:203.0.113.7", _ip("203.0.113.7")),
    ("ip", "IP:2001:DB8:0:0:0:0:0:1", _ip("2001:db8::1")),
    ("ip", "ip:2001:0db8::0001", _ip("2001:db8::1")),
    ("ip", "ip:~0123456789abcdef", "ip:~0123456789abcdef"),
    ("hwid", "hwid:2:abcdef0123", "hwid:2:abcdef0123"),
    ("hwid", "HWID:Some_Token-1", "hwid:Some_Token-1"),
    ("hwid", "hwid:" + "x" * 128, "hwid:" + "x" * 128),
]

INVALID = [
    ("steam", "steam:76561197960265727"),  # one below an individual account
    ("steam", "steam:76561202255233024"),  # one above
    ("steam", "steam:11000010000000g"),
    ("steam", "steam:STEAM_0:2:11101"),
    ("steam", "steam:7656119796028793a"),
    ("steam", "steam: 76561197960287930"),
    ("steam", "steam:"),
    ("license", "license:" + "a" * 39),
    ("license", "license:" + "a" * 41),
    ("license", "license:" + "g" * 40),
    ("license2", "license2:" + "a" * 39),
    ("license2", "license2:" + "z" * 40),
    ("license2", "license2:"),
    ("fivem", "fivem:"),
    ("fivem", "fivem:-1"),
    ("fivem", "fivem:" + "1" * 21),
    ("fivem", "fivem:١٢٣"),  # Arabic-Indic digits
    ("xbl", "xbl:12a"),
    ("xbl", "xbl:1.5"),
    ("xbl", "xbl: 1"),
    ("live", "live:"),
    ("live", "live:+1"),
    ("live", "live:1e5"),
    ("roblox", "roblox:abc"),
    ("roblox", "roblox:" + "9" * 21),
    ("roblox", "roblox:1\n"),
    ("discord", "discord:1234567890123456"),  # 16 digits
    ("discord", "discord:" + "1" * 21),
    ("discord", "discord:18446744073709551616"),  # 2**64
    ("discord", "discord:01234567890123456"),
    ("minecraft", "minecraft:069a79f444e94726a5befca90e38aaf"),
    ("minecraft", "minecraft:069a79f4-44e94726a5befca90e38aaf5"),
    ("minecraft", "minecraft:{069a79f4-44e9-4726-a5be-fca90e38aaf5}"),
    ("minecraft", "minecraft:069a79f4-44e9-4726-a5be-fca90e38aafz"),
    ("epic", "epic:" + "c" * 31),
    ("epic", "epic:" + "c" * 33),
    ("epic", "epic:" + "x" * 32),
    ("ip", "ip:256.0.0.1"),
    ("ip", "ip:010.0.0.1"),
    ("ip", "ip:fe80::1%eth0"),
    ("ip", "ip:example.com"),
    ("ip", "ip:~0123456789ABCDEF"),
    ("ip", "ip:~0123"),
    ("ip", "ip:"),
    ("hwid", "hwid:"),
    ("hwid", "hwid:" + "x" * 129),
    ("hwid", "hwid:has space"),
    ("hwid", "hwid:tab\t"),
    ("hwid", "hwid:ünicode"),
    (None, "76561197960287930"),
    (None, "ssn:123"),
    (None, ":123"),
    (None, ""),
    (None, "x" * 201),
]


@pytest.mark.parametrize(("kind", "raw", "stored"), [pytest.param(*row, id=row[1][:60]) for row in VALID])
def test_each_spelling_is_stored_in_one_form(kind, raw, stored) -> None:
    identifier = parse(raw, ip_key=KEY)
    assert (identifier.type, str(identifier)) == (kind, stored)
    assert identifier.strong == (kind in STRONG_TYPES)
    # The stored form is itself accepted, as the same identifier.
    assert parse(stored, ip_key=KEY) == identifier


@pytest.mark.parametrize(("kind", "raw"), [pytest.param(*row, id=repr(row[1][:60])) for row in INVALID])
def test_a_malformed_identifier_is_refused_and_quoted(kind, raw) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        parse(raw, ip_key=KEY)
    assert str(refused.value).startswith(f"identifier {json.dumps(raw[:80])[:-1]}"), str(refused.value)


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_has_three_valid_and_three_malformed_rows(kind) -> None:
    assert sum(row[0] == kind for row in VALID) >= 3
    assert sum(row[0] == kind for row in INVALID) >= 3


@pytest.mark.parametrize("value", [None, 12, 1.5, True, ["steam:1"], {"a": 1}])
def test_a_value_that_is_not_a_string_is_refused(value) -> None:
    with pytest.raises(InvalidIdentifier, match="is not a string"):
        parse(value, ip_key=KEY)


def test_an_address_is_keyed_by_the_installation_secret_and_never_kept() -> None:
    one, other = parse("ip:203.0.113.7", ip_key=b"one"), parse("ip:203.0.113.7", ip_key=b"other")
    assert one != other
    assert "203.0.113.7" not in str(one)
    assert parse("ip:203.0.113.8", ip_key=b"one") != one


def test_weak_types_are_ip_and_hwid() -> None:
    assert WEAK_TYPES == ("ip", "hwid")
    assert not parse("hwid:abc", ip_key=KEY).strong
