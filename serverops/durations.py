import re
from datetime import timedelta

_DURATION = re.compile(r"(\d{1,9})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Far beyond any useful lifetime, and far from datetime's limits when added to now.
LONGEST = timedelta(days=100 * 365)


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``: a whole number and a unit; ``ValueError`` otherwise."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90d, 12h, 30m or 45s")
    amount, unit = match.groups()
    duration = timedelta(**{_UNITS[unit]: int(amount)})
    if duration > LONGEST:
        raise ValueError(f"{text!r} is longer than 100 years")
    return duration
