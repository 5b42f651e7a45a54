"""gunicorn's hooks (``serverops.startup``), as ``gunicorn.conf.py`` installs them."""

from __future__ import annotations

import gc
import os
import runpy
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from serverops import startup

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_gunicorn_conf_installs_the_hooks() -> None:
    conf = runpy.run_path(str(CONF))

    assert conf["on_starting"] is startup.start
    assert conf["post_worker_init"] is startup.freeze_loaded_objects
    assert conf["child_exit"] is startup.worker_exited


def test_start_removes_the_metrics_files_of_dead_processes_only(tmp_path, monkeypatch) -> None:
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    live = tmp_path / f"counter_{os.getpid()}.db"
    dead = tmp_path / f"histogram_{finished.pid}.db"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    startup.start(server=None)

    assert live.exists()
    assert not dead.exists()


def test_a_dead_workers_live_gauges_leave_the_metrics(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    gone = tmp_path / "gauge_livesum_4242.db"
    kept = tmp_path / "counter_4242.db"
    gone.write_bytes(b"x")
    kept.write_bytes(b"x")

    startup.worker_exited(server=None, worker=type("Worker", (), {"pid": 4242})())

    assert not gone.exists()
    assert kept.exists()


class Node:
    def __init__(self) -> None:
        self.itself = self  # a reference cycle: only the collector reclaims it


def test_a_worker_freezes_what_it_has_loaded_and_not_its_garbage(unfrozen: None) -> None:
    loaded = {"settings": ["a", "long-lived", "object"]}
    garbage = weakref.ref(Node())
    assert garbage() is not None
    assert gc.get_freeze_count() == 0

    startup.freeze_loaded_objects(worker=None)

    assert gc.get_freeze_count() > 1000  # Django, the apps and the test run's modules
    assert not any(obj is loaded for obj in gc.get_objects())  # out of every generation's sight
    assert garbage() is None  # collected first, not frozen forever


def test_the_library_names_its_files_by_process_id(tmp_path) -> None:
    """What ``startup.start`` reads a file's process from: prometheus-client's own names."""
    import subprocess
    import sys

    code = "import os; from prometheus_client import Counter; Counter('c', 'c').inc(); print(os.getpid())"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pid = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert [path.name for path in tmp_path.iterdir()] == [f"counter_{pid.strip()}.db"]
