#!/usr/bin/env python3
"""What counting a request in /metrics costs the request path: ``serverops.metrics.observe_request``
(a counter, a histogram and the route's label lookups) timed in process, in prometheus-client's
single-process mode and in its multiprocess mode (values in memory-mapped files, as under
gunicorn with ``PROMETHEUS_MULTIPROC_DIR``). Printed as µs per request, medians of 5 rounds.

    .venv/bin/python -m bench.metrics_cost
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

ROUND = 20_000

CODE = """
import os, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serverops.settings.base")
import django
django.setup()
from types import SimpleNamespace
from serverops import metrics
request = SimpleNamespace(resolver_match=SimpleNamespace(view_name="case-detail"), method="GET")
response = SimpleNamespace(status_code=200)
rounds = []
for _ in range(5):
    started = time.perf_counter()
    for _ in range({n}):
        metrics.observe_request(request, response, 0.002)
    rounds.append((time.perf_counter() - started) / {n} * 1e6)
print(" ".join(f"{{r:.2f}}" for r in rounds))
"""


def timed(multiprocess: bool) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        out = subprocess.run(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", CODE.format(n=ROUND)], env=env, capture_output=True, text=True, check=True
        ).stdout
    return [float(value) for value in out.split()]


def main() -> None:
    for label, multiprocess in (("single process", False), ("multiprocess (gunicorn)", True)):
        rounds = timed(multiprocess)
        print(
            f"metrics cost, {label}: {statistics.median(rounds):.1f} µs per request "
            f"(rounds {min(rounds):.1f}-{max(rounds):.1f})"
        )


if __name__ == "__main__":
    main()
