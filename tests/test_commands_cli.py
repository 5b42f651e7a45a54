"""The commands as operators' scripts run them: real processes, real exit codes and streams."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def manage(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert _run("migrate", "--noinput", "-v0").returncode == 0
    return _run


def test_success_prints_one_line_on_stdout_and_exits_0(manage) -> None:
    result = manage("create_project", "EU-1", "--org", "Nordic")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.startswith("p_")
    assert "EU-1" in result.stderr

    token = manage("create_token", "--project", result.stdout.strip(), "--name", "bot", "--scope", "cases:read")
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("so_live_")
    assert len(token.stdout.splitlines()) == 1


def test_failure_exits_non_zero_with_a_one_line_reason_on_stderr(manage) -> None:
    result = manage("revoke_token", "tok_missing")
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip() == "CommandError: no token with id 'tok_missing'"
