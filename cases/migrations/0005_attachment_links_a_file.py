"""An Attachment becomes the link between a Case and a ``media.File``.

Every existing attachment becomes a File with the same id, key, bytes and facts (project
and mode from its case) and a link listing it in its case, in the case's old order
(oldest first), so no attached file is lost and no URL or id changes.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

SYSTEM = ("system", "migration", "cases 0005 migration")
BATCH = 500


def _batches(rows, size=BATCH):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _create_keeping_timestamps(manager, rows):
    """bulk_create stamps auto_now(_add) fields with the current time; the rows keep their own."""
    stamps = [(row.created_at, row.updated_at) for row in rows]
    manager.bulk_create(rows)
    for row, (created_at, updated_at) in zip(rows, stamps):
        row.created_at, row.updated_at = created_at, updated_at
    manager.bulk_update(rows, ["created_at", "updated_at"])


def attachments_to_files(apps, schema_editor):
    Legacy = apps.get_model("cases", "LegacyAttachment")
    File = apps.get_model("media", "File")
    Attachment = apps.get_model("cases", "Attachment")
    db = schema_editor.connection.alias
    rows = Legacy.objects.using(db).select_related("case").order_by("case_id", "created_at", "id")
    position = {}
    for batch in _batches(rows.iterator(chunk_size=BATCH)):
        files = []
        links = []
        for old in batch:
            files.append(
                File(
                    id=old.id,
                    project_id=old.case.project_id,
                    mode=old.case.mode,
                    blob=old.file.name,
                    key=old.key,
                    size=old.size,
                    content_type=old.content_type,
                    sha256=old.sha256,
                    original_name=old.original_name,
                    tags=old.tags,
                    folder=old.folder,
                    abuse_status=old.abuse_status,
                    visibility=old.visibility,
                    storage_class=old.storage_class,
                    created_at=old.created_at,
                    updated_at=old.updated_at,
                )
            )
            index = position.get(old.case_id, 0)
            position[old.case_id] = index + 1
            links.append(
                Attachment(
                    case_id=old.case_id,
                    file_id=old.id,
                    position=index,
                    attached_at=old.created_at,
                    attached_by_type=SYSTEM[0],
                    attached_by_id=SYSTEM[1],
                    attached_by_name=SYSTEM[2],
                )
            )
        _create_keeping_timestamps(File.objects.using(db), files)
        Attachment.objects.using(db).bulk_create(links)


def files_to_attachments(apps, schema_editor):
    """Back to one row per attachment. A file listed in several cases becomes several rows sharing
    its stored bytes (the first keeps the file's id). The old schema has no place for a file no
    case lists: its row goes (its bytes stay in storage), as do all File rows, which 0005 recreates."""
    from serverops.ids import new_file_id

    Legacy = apps.get_model("cases", "LegacyAttachment")
    Attachment = apps.get_model("cases", "Attachment")
    db = schema_editor.connection.alias
    seen = set()
    links = Attachment.objects.using(db).select_related("file").order_by("case_id", "position", "id")
    for batch in _batches(links.iterator(chunk_size=BATCH)):
        rows = []
        for link in batch:
            file = link.file
            rows.append(
                Legacy(
                    id=file.id if file.id not in seen else new_file_id(),
                    case_id=link.case_id,
                    file=file.blob.name,
                    key=file.key,
                    size=file.size,
                    content_type=file.content_type,
                    sha256=file.sha256,
                    original_name=file.original_name,
                    tags=file.tags,
                    folder=file.folder,
                    abuse_status=file.abuse_status,
                    visibility=file.visibility,
                    storage_class=file.storage_class,
                    created_at=link.attached_at,
                    updated_at=file.updated_at,
                )
            )
            seen.add(file.id)
        _create_keeping_timestamps(Legacy.objects.using(db), rows)
    Attachment.objects.using(db).all().delete()
    apps.get_model("media", "File").objects.using(db).all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0004_case_event'),
        ('media', '0001_initial'),
    ]

    operations = [
        # The old table steps aside under another name. Not a plain RenameModel: that would also
        # rename the "attachment" content type, and with it the permissions staff groups hold,
        # which belong to the new Attachment.
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RenameModel('Attachment', 'LegacyAttachment')],
            database_operations=[migrations.AlterModelTable('Attachment', 'cases_legacyattachment')],
        ),
        migrations.AlterField(
            model_name='legacyattachment',
            name='case',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cases.case'),
        ),
        migrations.CreateModel(
            name='Attachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('attached_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('attached_by_type', models.CharField(choices=[('token', 'API token'), ('staff', 'Staff user'), ('system', 'System')], max_length=6)),
                ('attached_by_id', models.CharField(max_length=150)),
                ('attached_by_name', models.CharField(max_length=200)),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='cases.case')),
                ('file', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attachments', to='media.file')),
            ],
            options={
                'ordering': ['position', 'id'],
                'indexes': [models.Index(fields=['case', 'position'], name='attachment_case_order')],
                'constraints': [
                    models.UniqueConstraint(fields=('case', 'file'), name='attachment_file_once_per_case'),
                    models.CheckConstraint(condition=models.Q(('attached_by_type__in', ['token', 'staff', 'system'])), name='attachment_actor_valid'),
                ],
            },
        ),
        migrations.RunPython(attachments_to_files, files_to_attachments, elidable=False),
        migrations.DeleteModel('LegacyAttachment'),
    ]
