"""A message keeps only its link to the Event row: the body and type live there, once."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0003_messages_refer_to_events")]

    operations = [
        migrations.RemoveConstraint(model_name="webhookmessage", name="webhook_message_once_per_endpoint"),
        migrations.RemoveField(model_name="webhookmessage", name="event"),
        migrations.RemoveField(model_name="webhookmessage", name="event_type"),
        migrations.RemoveField(model_name="webhookmessage", name="payload"),
        migrations.RenameField(model_name="webhookmessage", old_name="feed_event", new_name="event"),
        migrations.AlterField(
            model_name="webhookmessage",
            name="event",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="messages", to="webhooks.event"
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookmessage",
            constraint=models.UniqueConstraint(fields=("endpoint", "event"), name="webhook_message_once_per_endpoint"),
        ),
    ]
