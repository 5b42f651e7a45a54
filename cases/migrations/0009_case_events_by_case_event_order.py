"""A case's events lose the index of their ``case`` column alone.

``case_event_order`` (case, created_at, id) and ``event_chain_no_fork`` (case, prev_hash) both
lead with the case, so they serve the foreign key's lookups. The single-column index was the
smaller one, so PostgreSQL read a case's history through it and sorted every event of the case
for each page of ``GET /v1/cases/{id}/events`` instead of reading the page in order; and on the
largest table it was two more indexes to write on every change (``_like`` as well, which no
query uses). bench/PROFILE.md, section 15.

Only the indexes are dropped: Django's own AlterField would also drop and re-add the foreign
key constraint, which checks every event again under a lock. Back: both are built again.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "cases_caseevent_case_id_6c6031ac"


def drop_indexes(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}_like"')


def create_indexes(apps, schema_editor):
    schema_editor.execute(f'CREATE INDEX "{INDEX}" ON "cases_caseevent" ("case_id")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'CREATE INDEX "{INDEX}_like" ON "cases_caseevent" ("case_id" varchar_pattern_ops)')


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0008_roles_replace_the_case_moderators_group"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="caseevent",
                    name="case",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="cases.case",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
