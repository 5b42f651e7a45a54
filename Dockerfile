# ServerOps cases: the web service (gunicorn) and, with another command, the webhook worker.
# Two stages: the first installs the runtime lock (requirements.lock, hashes checked) into a
# virtualenv and collects the admin's static files; the second copies only that virtualenv and the
# application onto a clean base and runs as an unprivileged user. No compiler is needed: every
# locked package ships a manylinux wheel. compose.yaml runs it as 3 web hosts and 3 workers.
#
#   podman build -t serverops-cases .    (or docker build)

# The base: the official image by default; any Debian bookworm with python3, python3-venv and useradd
# serves as well, e.g. one made from Debian's packages where no registry is reached (docs/deploy.md,
# scripts/container_smoke.py): --build-arg PYTHON_IMAGE=localhost/serverops-python:3.11-bookworm
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# python3: both bases have it (Debian's has no bare `python`); inside the virtualenv both exist.
RUN python3 -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock
WORKDIR /app
COPY . .
# The base settings need no secret; DEBUG off, so the manifest of hashed names is written.
RUN STATIC_ROOT=/app/staticfiles /opt/venv/bin/python manage.py collectstatic --noinput -v0

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --system --uid 10001 --no-create-home --home-dir /app serverops \
 && install -d -o serverops -g serverops /var/lib/serverops/metrics
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=serverops.settings.production \
    STATIC_ROOT=/app/staticfiles \
    LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/serverops/metrics \
    WEB_CONCURRENCY=2 \
    PORT=8001
USER serverops
EXPOSE 8001
# Liveness: the process answers on $PORT (no engine is asked). The Host header is one the service serves.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["python", "-c", "import os, urllib.request; host = os.environ['ALLOWED_HOSTS'].split(',')[0]; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', headers={'Host': host}), timeout=2)"]
# gunicorn reads WEB_CONCURRENCY as its number of workers (one or two per core), and with no --bind
# binds 0.0.0.0:$PORT. A run on another port sets PORT (the HEALTHCHECK follows it), and may bind
# one address only: -e PORT=8123 … gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8123
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
