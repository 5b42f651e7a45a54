"""Each event the outbox holds becomes one Event row (its body, type, project and mode, from the
message), and every message of it refers to that row. Backwards, messages take their body and
type back from their event; messages of events that are not case events (which did not exist
before) are dropped with them."""

from typing import Any

from django.db import migrations

BATCH = 1000


def forward(apps: Any, schema_editor: Any) -> None:
    Event = apps.get_model("webhooks", "Event")
    Message = apps.get_model("webhooks", "WebhookMessage")
    alias = schema_editor.connection.alias
    messages = Message.objects.using(alias).select_related("endpoint").order_by("created_at", "id")
    seen: dict[str, int] = {}
    for message in messages.iterator(chunk_size=BATCH):
        seq = seen.get(message.event_id)
        if seq is None:
            event = Event.objects.using(alias).create(
                public_id=message.event_id,
                project_id=message.endpoint.project_id,
                mode=message.endpoint.mode,
                type=message.event_type,
                payload=message.payload,
                created_at=message.created_at,
            )
            seq = seen[message.event_id] = event.seq
        Message.objects.using(alias).filter(pk=message.pk).update(feed_event_id=seq)


def backward(apps: Any, schema_editor: Any) -> None:
    Event = apps.get_model("webhooks", "Event")
    Message = apps.get_model("webhooks", "WebhookMessage")
    alias = schema_editor.connection.alias
    case_types = ("case.created", "case.updated")
    Message.objects.using(alias).exclude(feed_event__type__in=case_types).delete()
    for event in Event.objects.using(alias).filter(type__in=case_types).iterator(chunk_size=BATCH):
        Message.objects.using(alias).filter(feed_event_id=event.seq).update(
            event_id=event.public_id, event_type=event.type, payload=event.payload
        )


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_event_schema")]

    operations = [migrations.RunPython(forward, backward)]
