"""Roles replace the ``Case moderators`` group (docs/operations.md#members-and-roles).

What a staff user may see and do is their role in each organisation (``tokens.Member``); the
admin asks nothing else, so the group would only mislead whoever adds someone to it. Its staff
became moderators of every organisation in ``tokens.0003_staff_become_members``, which runs
first. Reversing makes the group again, as its two migrations did, without its former members.
"""

from importlib import import_module

from django.db import migrations

GROUP = "Case moderators"


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


def create_group(apps, schema_editor):
    import_module("cases.migrations.0002_case_moderators_group").create_group(apps, schema_editor)
    import_module("media.migrations.0002_case_moderators_review_files").grant(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0007_history_chain"),
        ("media", "0002_case_moderators_review_files"),
        ("tokens", "0003_staff_become_members"),
    ]

    operations = [migrations.RunPython(delete_group, create_group)]
