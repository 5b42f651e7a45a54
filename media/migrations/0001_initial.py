import django.db.models.deletion
import media.models
import serverops.ids
from django.db import migrations, models


def _add_tags_index(apps, schema_editor):
    # The tag filter (``tags__has_item``) is jsonb containment on PostgreSQL, which a GIN index
    # serves; SQLite has no such index and scans the keyset range instead.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX media_file_tags_gin ON media_file USING gin (tags jsonb_path_ops)"
        )


def _drop_tags_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS media_file_tags_gin")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tokens', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='File',
            fields=[
                ('id', models.CharField(default=serverops.ids.new_file_id, editable=False, max_length=28, primary_key=True, serialize=False)),
                ('mode', models.CharField(choices=[('live', 'Live'), ('test', 'Test')], max_length=4)),
                ('blob', models.FileField(max_length=500, upload_to=media.models.file_upload_to)),
                ('key', models.CharField(editable=False, max_length=500)),
                ('size', models.BigIntegerField(editable=False)),
                ('content_type', models.CharField(editable=False, max_length=100)),
                ('sha256', models.CharField(editable=False, max_length=64)),
                ('original_name', models.CharField(editable=False, max_length=255)),
                ('tags', models.JSONField(blank=True, default=list)),
                ('folder', models.CharField(blank=True, default='', max_length=200)),
                ('abuse_status', models.CharField(choices=[('clean', 'Clean'), ('pending', 'Pending'), ('flagged', 'Flagged'), ('blocked', 'Blocked')], default='clean', max_length=8)),
                ('visibility', models.CharField(choices=[('public', 'Public'), ('private', 'Private')], default='private', max_length=8)),
                ('storage_class', models.CharField(choices=[('standard', 'Standard'), ('infrequent', 'Infrequent'), ('archive', 'Archive')], default='standard', max_length=10)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='files', to='tokens.project')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [
                    models.Index(fields=['project', 'mode', '-created_at', '-id'], name='media_file_keyset'),
                    models.Index(fields=['project', 'mode', 'folder', '-created_at', '-id'], name='media_file_folder_keyset'),
                ],
                'constraints': [
                    models.CheckConstraint(condition=models.Q(('mode__in', ['live', 'test'])), name='media_file_mode_valid'),
                    models.CheckConstraint(condition=models.Q(('abuse_status__in', ['clean', 'pending', 'flagged', 'blocked'])), name='media_file_abuse_valid'),
                    models.CheckConstraint(condition=models.Q(('visibility__in', ['public', 'private'])), name='media_file_visibility_valid'),
                    models.CheckConstraint(condition=models.Q(('storage_class__in', ['standard', 'infrequent', 'archive'])), name='media_file_storage_class_valid'),
                    models.CheckConstraint(condition=models.Q(('size__gte', 0)), name='media_file_size_valid'),
                ],
            },
        ),
        migrations.RunPython(_add_tags_index, _drop_tags_index, elidable=False),
    ]
