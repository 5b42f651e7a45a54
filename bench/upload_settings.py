"""Settings of the upload benchmark (bench/upload.py): the service's base settings, DEBUG off, the
benchmark's PostgreSQL database, and a URLconf that adds the plain baseline upload view.

Nothing here changes the API's code path; rate limits are raised through the environment only so
that the benchmark measures uploads and not 429s.
"""

import os
import warnings

import dj_database_url

from serverops.settings.base import *  # noqa: F403
from serverops.settings.base import postgresql_options

DEBUG = False
# Whitenoise warns once per process that collectstatic never ran; the benchmark serves no static files.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
ROOT_URLCONF = "bench.upload_urls"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_UPLOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_upload"),
        conn_max_age=600,
        conn_health_checks=True,
    )
}
# As serverops.settings.base does for PostgreSQL: the service's backend (its health check costs no
# round trip) and prepared statements.
DATABASES["default"]["ENGINE"] = "serverops.db.postgresql"
DATABASES["default"]["OPTIONS"] = postgresql_options()
