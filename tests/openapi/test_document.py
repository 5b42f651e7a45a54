"""The OpenAPI document (issue 4): served without a token, valid, identical to the committed
copy, and covering every operation the URL configuration serves under /v1/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.regex_helper import normalize
from openapi_spec_validator import validate

from tests.openapi import load_yaml
from tokens.scopes import SCOPES

pytestmark = pytest.mark.django_db

COMMITTED = Path(settings.BASE_DIR) / "openapi" / "openapi.yaml"
REGENERATE = ".venv/bin/python manage.py spectacular --file openapi/openapi.yaml --validate --fail-on-warn"
HTTP_METHODS = ("get", "put", "patch", "post", "delete", "options", "trace")
# Routes under /v1/ that are not operations of the API: the document itself, and the catch-all
# that answers 404 for every path no route serves.
NOT_OPERATIONS = {"openapi-json", "openapi-yaml", "api_not_found"}
SAMPLE_ID = "c_01JD3Z8W6V4M2Q9T7K5X1B0N3R"


def _served(client: Client, path: str) -> dict[str, Any]:
    # A token that would be refused everywhere else: the document is public.
    response = client.get(path, headers={"Authorization": "Bearer so_live_nope"})
    assert response.status_code == 200, response.content
    document: dict[str, Any] = load_yaml(response.content) if path.endswith(".yaml") else response.json()
    return document


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    return _served(client, "/v1/openapi.json")


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/v1/openapi.yaml"])
def test_served_document_is_the_committed_copy(client: Client, path: str) -> None:
    committed = load_yaml(COMMITTED.read_text(encoding="utf-8"))
    assert _served(client, path) == committed, f"{COMMITTED} is out of date; regenerate it with:\n    {REGENERATE}"


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_docs_page_works_offline(client: Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200, page.content
    html = page.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by this service"
        assert client.get(asset).status_code == 200, asset
    assert "/v1/openapi.json" in html


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        regex = prefix + entry.pattern.regex.pattern.lstrip("^")
        if isinstance(entry, URLResolver):
            yield from _routes(entry, regex.removesuffix("$"))
        else:
            yield regex, entry


def _served_operations() -> Iterator[tuple[str, str]]:
    """(sample path, method) for every method of every route under /v1/ that is an API operation.

    HEAD is left out: it is GET without the body (RFC 9110 §9.3.2), which the document states.
    """
    for regex, route in _routes(get_resolver()):
        if not regex.startswith("v1/") or (route.name or route.callback.__name__) in NOT_OPERATIONS:
            continue
        template, params = normalize(regex)[0]
        path = "/" + template % dict.fromkeys(params, SAMPLE_ID)
        view_class = getattr(route.callback, "cls", None)
        if view_class is None:
            pytest.fail(f"{path} is served by a function view the test cannot inspect")
        # A viewset route serves the methods mapped to an action, less those the view refuses (405).
        handled = getattr(route.callback, "actions", None) or [m for m in HTTP_METHODS if hasattr(view_class, m)]
        methods = set(handled) & set(view_class.http_method_names)
        for method in sorted(methods & set(HTTP_METHODS)):
            yield path, method


def _documented(document: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    # A literal path (/v1/media/base64) wins over a template that also matches it (/v1/media/{id}).
    if path in document["paths"]:
        return path, document["paths"][path]
    for template, item in document["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}/]+\}", "[^/]+", template), path):
            return template, item
    return None


def test_every_served_operation_is_documented(document: dict[str, Any]) -> None:
    served = list(_served_operations())
    assert served, "no route under /v1/ found"
    missing = []
    for path, method in served:
        found = _documented(document, path)
        if found is None or method not in found[1]:
            missing.append(f"{method.upper()} {path}")
    assert not missing, f"served but not in the document: {missing}"


def test_every_documented_operation_is_served(client: Client, document: dict[str, Any]) -> None:
    for template, item in document["paths"].items():
        path = re.sub(r"\{[^}/]+\}", SAMPLE_ID, template)
        for method in set(item) & set(HTTP_METHODS):
            match = resolve(path)
            view = getattr(match.func, "view_class", None)
            served = getattr(match.func, "actions", {}) or (view.http_method_names if view else [])
            assert method in served, f"{method.upper()} {template} is documented but not served"


def test_each_operation_states_the_scope_its_view_requires(document: dict[str, Any]) -> None:
    for template, item in document["paths"].items():
        view = resolve(re.sub(r"\{[^}/]+\}", SAMPLE_ID, template)).func
        for method in set(item) & set(HTTP_METHODS):
            operation = item[method]
            if not hasattr(view, "actions"):  # a view that needs no token (GET /v1/export-key)
                assert not view.cls.authentication_classes, (method, template)  # type: ignore[attr-defined]
                assert operation.get("security", [{}]) == [{}], (method, template)
                continue
            required = view.cls.required_scopes[view.actions[method]]  # type: ignore[attr-defined]
            scopes = [required] if isinstance(required, str) else list(required)
            assert operation["x-required-scope"] == " ".join(scopes), (method, template)
            assert all(f"`{scope}`" in operation["description"] for scope in scopes), (method, template)
            assert operation["security"] == [{"bearerAuth": []}], (method, template)
            named = operation["responses"]["403"]["headers"]["X-Accepted-Scopes"]["schema"]["enum"]
            if operation["operationId"] == "createToken":
                # It also refuses a scope the new token would have and the caller lacks, by name.
                assert set(scopes) <= set(named) == set(SCOPES), (method, template)
            else:
                assert named == scopes, (method, template)


def test_every_error_response_is_the_envelope_with_an_example(document: dict[str, Any]) -> None:
    for template, item in document["paths"].items():
        for method in set(item) & set(HTTP_METHODS):
            for status, response in item[method]["responses"].items():
                assert "X-Request-Id" in response["headers"], (method, template, status)
                if int(status) < 400:
                    continue
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (method, template, status)
                (example,) = content["examples"].values()
                assert (
                    example["value"]["error"]["code"]
                    in document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
                )


def test_committed_copy_is_json_compatible() -> None:
    # Generated clients read JSON as often as YAML; nothing YAML-only (dates, anchors) may slip in.
    committed = load_yaml(COMMITTED.read_text(encoding="utf-8"))
    assert json.loads(json.dumps(committed)) == committed
