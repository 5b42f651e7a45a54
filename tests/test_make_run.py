"""`make run` as a newcomer uses it: it prints a demo token and an admin login that work, and
stopping it (SIGTERM to make, or to the process its recipe became) stops the server and the
webhook worker too, the server's autoreload child included.

Each run is a real `make run` on a scratch SQLite file, media and static folder, on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make") or "make"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: Linux, as CI)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Run:
    make: subprocess.Popen[str]
    port: int
    output: list[str]

    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Run]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "make.log"
    with log.open("w") as out:
        # -o: the shared virtualenv counts as installed, whatever the locks' timestamps.
        make = subprocess.Popen(
            [MAKE, "--no-print-directory", "-o", ".venv/.installed-runtime", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    run = Run(make=make, port=port, output=[])
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            run.output[:] = [log.read_text()]
            assert make.poll() is None, run.text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"make run did not start: {run.text()}")
        run.output[:] = [log.read_text()]
        yield run
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()


def _stop_and_check(run: Run, pid: int) -> None:
    below = _descendants(run.make.pid)
    commands = {p: Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode() for p in below if _alive(p)}
    assert any("runserver" in c for c in commands.values()), commands
    assert any("deliver_webhooks" in c for c in commands.values()), commands

    os.kill(pid, signal.SIGTERM)

    run.make.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in below):
        time.sleep(0.2)
    assert not [commands.get(p, p) for p in below if _alive(p)], "left running after make run stopped"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{run.port}/", timeout=5)


def test_sigterm_to_the_recipe_stops_the_server_and_the_worker(make_run: Run) -> None:
    recipe = [p for p in _descendants(make_run.make.pid) if b"run_local.py" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(recipe) == 1, recipe
    _stop_and_check(make_run, recipe[0])


def test_make_run_prints_a_working_token_and_admin_login_and_sigterm_to_make_stops_it(make_run: Run) -> None:
    text = make_run.text()
    token = re.search(r"Demo token \(shown once\): (so_live_\w+)", text)
    login = re.search(r"Admin: http://127\.0\.0\.1:\d+/admin/  user (\S+)  password (\S+)  \(shown once", text)
    assert token and login, text
    username, password = login.groups()
    assert text.count(password) == 1 and text.count(token.group(1)) == 2  # the token again in the curl line

    base = f"http://127.0.0.1:{make_run.port}"
    authorization = {"Authorization": f"Bearer {token.group(1)}"}
    request = urllib.request.Request(f"{base}/v1/cases?limit=1", headers=authorization)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        assert len(json.load(answer)["cases"]) == 1

    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(f"{base}/admin/login/", timeout=30) as page:
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())
    assert csrf
    form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": csrf.group(1)}).encode()
    with browser.open(f"{base}/admin/login/?next=/admin/", data=form, timeout=30) as landed:
        assert landed.url == f"{base}/admin/", landed.url
        assert "Log out" in landed.read().decode()
    _stop_and_check(make_run, make_run.make.pid)
