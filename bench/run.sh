#!/usr/bin/env bash
# The benchmark in one command: bench/run.sh [--tiny] [more options of python -m bench.run].
# Installs wrk (Debian) when missing; PostgreSQL and Redis must be running (.ci/run starts them).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
exec .venv/bin/python -m bench.run "$@"
