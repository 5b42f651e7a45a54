"""Events become rows of their own (one per event, the feed's source); deliveries will refer to them.

This step only adds: the ``Event`` table, the endpoint's ``format`` and ``paused_until``, and a
nullable link from each message to its event, which 0003 fills and 0004 makes the message's only
record of the event. The message's own copies (``event``, ``event_type``, ``payload``) become
optional here, so that migrating back can add them again before 0003 refills them.
"""

import django.db.models.deletion
import django.utils.timezone
import serverops.ids
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0003_staff_become_members"),
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                ("seq", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "public_id",
                    models.CharField(default=serverops.ids.new_event_id, editable=False, max_length=29, unique=True),
                ),
                ("mode", models.CharField(choices=[("live", "Live"), ("test", "Test")], max_length=4)),
                (
                    "type",
                    models.CharField(
                        choices=[
                            ("case.created", "case.created"),
                            ("case.updated", "case.updated"),
                            ("case.note_added", "case.note_added"),
                            ("file.created", "file.created"),
                            ("file.blocked", "file.blocked"),
                            ("file.deleted", "file.deleted"),
                            ("player.merged", "player.merged"),
                        ],
                        max_length=20,
                    ),
                ),
                ("payload", models.TextField(editable=False)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="tokens.project"
                    ),
                ),
            ],
            options={
                "ordering": ["seq"],
                "indexes": [
                    models.Index(fields=["project", "mode", "seq"], name="event_feed"),
                    models.Index(fields=["created_at"], name="event_age"),
                ],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("mode__in", ["live", "test"])), name="event_mode_valid"),
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "type__in",
                                [
                                    "case.created",
                                    "case.updated",
                                    "case.note_added",
                                    "file.created",
                                    "file.blocked",
                                    "file.deleted",
                                    "player.merged",
                                ],
                            )
                        ),
                        name="event_type_valid",
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="format",
            field=models.CharField(
                choices=[("standard", "Standard Webhooks"), ("discord", "Discord")], default="standard", max_length=8
            ),
        ),
        migrations.AddField(
            model_name="webhookendpoint",
            name="paused_until",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddConstraint(
            model_name="webhookendpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(("format__in", ["standard", "discord"])), name="webhook_format_valid"
            ),
        ),
        migrations.AlterField(
            model_name="webhookmessage",
            name="event",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="cases.caseevent"
            ),
        ),
        migrations.AlterField(
            model_name="webhookmessage",
            name="event_type",
            field=models.CharField(
                choices=[("case.created", "case.created"), ("case.updated", "case.updated")], default="", max_length=20
            ),
        ),
        migrations.AlterField(
            model_name="webhookmessage",
            name="payload",
            field=models.TextField(default="", editable=False),
        ),
        migrations.AddField(
            model_name="webhookmessage",
            name="feed_event",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="webhooks.event"
            ),
        ),
    ]
