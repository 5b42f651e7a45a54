"""The OpenAPI document: the served one against the committed copy, and schemathesis against the service."""

from typing import Any

import yaml

# libyaml's loader where PyYAML was built with it (its wheels are): the document is ~10,000 lines,
# which the pure-Python loader takes a second to read, in every test worker that collects these tests.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """``yaml.safe_load``, with libyaml when it is there."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
