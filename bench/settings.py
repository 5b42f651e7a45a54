"""Benchmark settings: base settings on PostgreSQL, DEBUG off, plus the baseline views' URLs.

Nothing here changes the code path of the API: rate limiting stays on with its production
defaults, except for the one benchmark token named by ``BENCH_TOKEN_ID``, whose budget is
raised so that the benchmark measures the API and not 429s.
"""

import os
import warnings

import dj_database_url

from serverops.settings.base import *  # noqa: F403
from serverops.settings.base import SERVEROPS, postgresql_options

DEBUG = False
# Whitenoise warns once per process that collectstatic never ran; the benchmark serves no static files.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
ROOT_URLCONF = "bench.urls"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
        conn_max_age=600,
        conn_health_checks=True,
    )
}
# As serverops.settings.base does for PostgreSQL.
DATABASES["default"]["ENGINE"] = "serverops.db.postgresql"
DATABASES["default"]["OPTIONS"] = postgresql_options()
# Names the connections, so the benchmark can find its PostgreSQL backends (their CPU time).
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = os.environ.get(
    "BENCH_APPLICATION_NAME", "serverops-bench"
)
_TOKEN_IDS = [token_id for token_id in os.environ.get("BENCH_TOKEN_ID", "").split(",") if token_id]
# Far above anything two workers on two cores can serve, so no benchmark request is refused.
SERVEROPS = {
    **SERVEROPS,
    "RATE_LIMIT_TOKEN_BUDGETS": dict.fromkeys(_TOKEN_IDS, (10**9, 10**9)),
}
