"""The Redis database of the tests that need a real Redis, which they empty.

One per pytest-xdist worker, so that no worker empties another's: ``TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``) is the first worker's, and worker ``gwN`` counts N databases down from
it (gw1: 14). Set it to run two checkouts at once. (Keeping these tests on one worker with
``xdist_group`` is not enough: under pytest 9, pytest-xdist 3.8 cannot group tests at all.)
"""

import os

_FIRST = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _worker_database(url: str, worker: int) -> str:
    base, _, database = url.rpartition("/")
    number = int(database) - worker
    if number < 0:
        raise RuntimeError(f"TEST_REDIS_URL {url}: not enough Redis databases below it for worker gw{worker}")
    return f"{base}/{number}"


TEST_REDIS_URL = _worker_database(_FIRST, _WORKER)
