"""A case's history becomes a hash chain (cases/chain.py): each existing event gets its
``prev_hash`` and ``hash``, oldest first, and each case the hash of its last event.

The hash is computed here as ``cases.chain`` computes it, written out so that this migration
keeps doing what it did whatever that module becomes. Back: the columns are dropped, the
events themselves are untouched.
"""

import hashlib
from datetime import UTC

import django.utils.timezone
import rfc8785
from django.db import migrations, models

GENESIS = "0" * 64
BATCH = 500


def _hash(event, prev_hash):
    created_at = event.created_at.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
    hashed = {
        "prev_hash": prev_hash,
        "id": event.id,
        "case": event.case_id,
        "created_at": created_at,
        "actor": {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name},
        "request_id": event.request_id or None,
        "changes": event.changes,
    }
    return hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()


def chain_existing_events(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    CaseEvent = apps.get_model("cases", "CaseEvent")
    db = schema_editor.connection.alias
    events, heads = [], []
    case_id, head = None, GENESIS

    def flush(force=False):
        if events and (force or len(events) >= BATCH):
            CaseEvent.objects.using(db).bulk_update(events, ["prev_hash", "hash"])
            events.clear()
        if heads and (force or len(heads) >= BATCH):
            Case.objects.using(db).bulk_update(heads, ["history_head"])
            heads.clear()

    ordered = CaseEvent.objects.using(db).order_by("case_id", "created_at", "id").only(
        "id", "case_id", "created_at", "actor_type", "actor_id", "actor_name", "request_id", "changes"
    )
    for event in ordered.iterator(chunk_size=BATCH):
        if event.case_id != case_id:
            if case_id is not None:
                heads.append(Case(pk=case_id, history_head=head))
            case_id, head = event.case_id, GENESIS
        event.prev_hash = head
        event.hash = head = _hash(event, head)
        events.append(event)
        flush()
    if case_id is not None:
        heads.append(Case(pk=case_id, history_head=head))
    flush(force=True)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_casesubject"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="history_head",
            field=models.CharField(default=GENESIS, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="caseevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="caseevent",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="caseevent",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="caseevent",
            constraint=models.UniqueConstraint(fields=("case", "prev_hash"), name="event_chain_no_fork"),
        ),
    ]
