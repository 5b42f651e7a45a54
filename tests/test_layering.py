"""The apps depend downward only: serverops ← tokens ← media ← players ← cases ← webhooks.

A module may import its own app and the apps below it, never one above (an import only for
type checking excepted). The root URLconf, which mounts every app, is the one exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["serverops", "tokens", "media", "players", "cases", "webhooks"]
# The project's own wiring, which names every app by design.
WIRING = {Path("serverops/urls.py")}


def _runtime_imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import of ``path`` with its line, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for_typing = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    imports = []
    for node in ast.walk(tree):
        if id(node) in for_typing:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            imports += [(node.lineno, alias.name) for alias in node.names]
    return imports


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_no_app_above_it(app: str) -> None:
    above = set(LAYERS[LAYERS.index(app) + 1 :])
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / app).rglob("*.py"))
        if path.relative_to(ROOT) not in WIRING
        for line, module in _runtime_imports(path)
        if module.split(".")[0] in above
    ]
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import cases.models\n"
        "if TYPE_CHECKING:\n"
        "    from webhooks.models import WebhookEndpoint\n"
        "def f():\n"
        "    from media import services\n"
    )

    assert _runtime_imports(module) == [(1, "typing"), (2, "cases.models"), (6, "media")]


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/services.py")), ids=lambda path: path.parent.name)
def test_services_speak_the_domain_not_http(path: Path) -> None:
    """Services raise ``serverops.exceptions.DomainError``; the API and the admin turn it into their answers."""
    http = [(line, module) for line, module in _runtime_imports(path) if module.split(".")[0] == "rest_framework"]
    assert http == [], f"{path.relative_to(ROOT)} imports DRF: {http}"
