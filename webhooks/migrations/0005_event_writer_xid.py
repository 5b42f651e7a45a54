"""PostgreSQL only: each event remembers the transaction that wrote it (``xid``), and the feed's
index orders a project's and mode's events by that transaction, then by ``seq``.

``seq`` comes from a sequence at INSERT, but transactions commit in any order: an event may
become visible after a later ``seq`` was already served. The feed (``webhooks.views``) serves
only events whose writer has finished for every snapshot to come (``xid`` below the snapshot's
``xmin``) in ``(xid, seq)`` order, so nothing committed later can sort before what was served.
SQLite serialises its writers, so ``seq`` is commit order there and nothing is added.

The column is not a model field: the database fills it (its DEFAULT), and only the feed's SQL
reads it. Rows that exist already get 0 (a constant default, so no rewrite of the table): the
ALTER waits for every writer of the table, so they are all committed, and sort before any new
one. The index keeps its name, ``event_feed``, with ``xid`` between ``mode`` and ``seq``.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FORWARD = (
    "ALTER TABLE webhooks_event ADD COLUMN xid xid8 NOT NULL DEFAULT '0'",
    "ALTER TABLE webhooks_event ALTER COLUMN xid SET DEFAULT pg_current_xact_id()",
    "DROP INDEX event_feed",
    "CREATE INDEX event_feed ON webhooks_event (project_id, mode, xid, seq)",
)
BACKWARD = (
    "DROP INDEX event_feed",
    "ALTER TABLE webhooks_event DROP COLUMN xid",
    "CREATE INDEX event_feed ON webhooks_event (project_id, mode, seq)",
)


def _run(statements: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0004_message_event_is_the_event_row")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
