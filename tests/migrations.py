"""Moving the test database to a migration's state and back, for data-migration tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to ``targets``; returns the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@contextmanager
def at_migration(targets: list[tuple[str, str]]) -> Iterator[Any]:
    """The database at ``targets`` (its historical apps), migrated to the latest state afterwards."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield migrate(targets)
    finally:
        migrate(latest)
