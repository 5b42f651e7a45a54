"""compose.yaml, deploy/nginx.conf and deploy/compose.env.example agree with each other, with the
Dockerfile and with the scale-out topology of docs/deploy.md.

compose.yaml cannot run on the machines the suite runs on (its engines' images come from registries
they cannot reach; scripts/container_smoke.py builds and runs the service's own image instead), so
these tests read it: a service renamed, a secret written into it, a host left out of nginx's
upstream or a variable the service does not read fails here rather than on a user's first
``compose up``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WEB = ("web1", "web2", "web3")
WORKERS = ("worker1", "worker2", "worker3")
SERVICE = (*WEB, *WORKERS, "migrate")  # the containers of the service's own image
SECRETS = re.compile(r"SECRET|PASSWORD|TOKEN|SIGNING_KEY|HASH_KEY|ACCESS_KEY")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())  # merge keys (<<) resolved
    services: dict[str, Any] = document["services"]
    return services


def env_example() -> dict[str, str]:
    lines = (ROOT / "deploy" / "compose.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_scale_out_topology(services: dict[str, Any]) -> None:
    assert set(services) == {*SERVICE, "nginx", "postgres", "redis", "minio", "minio-bucket"}
    for name in SERVICE:
        service = services[name]
        assert service["build"] == ".", name
        assert service["env_file"] == "deploy/compose.env", name
        assert service["environment"]["MEDIA_STORAGE"] == "s3", name
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:"), name
        assert service["environment"]["S3_ENDPOINT_URL"].startswith("http://minio:"), name
    for name in WEB:
        assert "command" not in services[name], "the web hosts run the image's CMD (gunicorn)"
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"]), name
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for name in WORKERS:
        assert services[name]["command"] == ["python", "manage.py", "deliver_webhooks"], name
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["nginx"]["depends_on"] == list(WEB)
    assert all(port.startswith("127.0.0.1:") for port in services["nginx"]["ports"]), "published on loopback"


def test_nginx_balances_exactly_the_web_hosts_on_the_images_port() -> None:
    upstream = re.findall(r"^\s*server (\S+):(\d+)", (ROOT / "deploy" / "nginx.conf").read_text(), re.MULTILINE)
    port = re.search(r"^\s*PORT=(\d+)", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert port is not None
    assert upstream == [(name, port.group(1)) for name in WEB]


def test_no_secret_is_written_into_compose_yaml(services: dict[str, Any]) -> None:
    for name, service in services.items():
        environment = service.get("environment") or {}
        assert not [key for key in environment if SECRETS.search(key)], name
        assert not any("@" in str(value) for value in environment.values()), f"{name}: credentials in a URL"


def test_the_env_example_holds_every_secret_as_a_placeholder() -> None:
    example = env_example()
    for key in ("SECRET_KEY", "IDENTIFIER_HASH_KEY", "EXPORT_SIGNING_KEY", "METRICS_TOKEN", "DATABASE_URL"):
        assert "CHANGE" in example[key], key
    # PostgreSQL sets the password its URL carries; MinIO's root user is the service's S3 user here.
    password = example["POSTGRES_PASSWORD"]
    assert example["DATABASE_URL"] == f"postgres://serverops:{password}@postgres:5432/serverops"
    assert example["S3_ACCESS_KEY_ID"] == example["MINIO_ROOT_USER"]
    assert example["S3_SECRET_ACCESS_KEY"] == example["MINIO_ROOT_PASSWORD"]


def test_every_variable_given_to_the_service_is_one_it_reads(services: dict[str, Any]) -> None:
    """A misspelt variable would be ignored without a word; the engines' own are theirs."""
    read = set()
    for path in (ROOT / "serverops" / "settings").glob("*.py"):
        read |= set(re.findall(r"""env_\w+\(\s*["']([A-Z0-9_]+)["']""", path.read_text()))
        read |= set(re.findall(r"""env=["']([A-Z0-9_]+)["']""", path.read_text()))
    given = set(env_example()) | set(services["web1"]["environment"])
    engines = {key for key in given if key.startswith(("POSTGRES_", "MINIO_"))}
    assert given - engines <= read, sorted(given - engines - read)
