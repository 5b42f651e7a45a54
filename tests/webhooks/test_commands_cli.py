"""The webhook commands as real processes on an SQLite file: the embedded default, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent.parent

CREATE_CASE = (
    "from cases.services import Actor, case_create; from tokens.models import Project; "
    "case_create(project=Project.objects.get(), mode='live', title='from the shell', actor=Actor.system('cli'))"
)


@pytest.fixture
def manage(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
    }

    def _run(*args: str, allow_private: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1" if allow_private else "0"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert _run("migrate", "--noinput", "-v0").returncode == 0
    return _run


def test_create_refuse_deliver_and_list_in_real_processes(manage, receiver) -> None:
    project = manage("create_project", "EU-1", "--org", "Nordic").stdout.strip()
    refused = manage("create_webhook", "--project", project, "--url", receiver.url())
    assert refused.returncode != 0
    assert refused.stdout == ""
    assert refused.stderr.strip() == (
        "CommandError: URL refused: 127.0.0.1 resolves to a loopback address (127.0.0.1); refused; "
        "for development against a receiver on this machine, set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 "
        "for create_webhook and for the worker (deliver_webhooks, make run) alike"
    )

    created = manage("create_webhook", "--project", project, "--url", receiver.url(), allow_private=True)
    assert created.returncode == 0, created.stderr
    [secret] = created.stdout.splitlines()
    assert secret.startswith("whsec_")
    assert secret not in created.stderr

    assert manage("shell", "-c", CREATE_CASE).returncode == 0
    delivered = manage("deliver_webhooks", "--once", allow_private=True)
    assert delivered.returncode == 0, delivered.stderr
    assert delivered.stdout == "1\n"
    [request] = receiver.requests
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "case.created"
    assert body["data"]["case"]["title"] == "from the shell"

    listed = manage("list_webhooks")
    assert secret not in listed.stdout + listed.stderr
    assert len(listed.stdout.splitlines()) == 2  # the header and the one endpoint
