"""gunicorn settings for ServerOps: the production recipe, the soak test and the benchmark use them.

    .venv/bin/gunicorn serverops.wsgi --config gunicorn.conf.py --bind 127.0.0.1:8001 --workers 4

The request limits are set so that a request the API could serve reaches Django, which
answers in the API's error envelope (a 10,000-character token is a 401, not gunicorn's
431 page); what gunicorn still refuses itself it answers in the same envelope
(serverops.gunicorn_errors).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The default serverops/wsgi.py sets too: the on_starting hook reads the settings before gunicorn
# loads the WSGI module, so `gunicorn serverops.wsgi` without the variable would not start.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serverops.settings.base")

from serverops import gunicorn_errors, startup

wsgi_app = "serverops.wsgi"

# The longest request line gunicorn allows (its default is 4094): long cursors and filters fit.
limit_request_line = 8190
# Browsers and proxies send 20-40 headers; 100 (the default) is kept.
limit_request_fields = 100
# A header field may be 32 KiB (default 8190): large cookies and long tokens reach Django.
limit_request_field_size = 32768

gunicorn_errors.install()

# Production settings without SECRET_KEY or ALLOWED_HOSTS: one line on stderr and exit 1; then
# the metrics files of processes gone since the last start are removed.
on_starting = startup.start
post_worker_init = startup.freeze_loaded_objects
# With PROMETHEUS_MULTIPROC_DIR every worker writes its metrics there and /metrics adds them up
# (serverops.metrics); a dead worker's live values are dropped.
child_exit = startup.worker_exited

# The runtime control socket would be one path for every gunicorn of this user on the host
# (the soak test and the benchmark start their own); the service does not use it.
control_socket_disable = True
