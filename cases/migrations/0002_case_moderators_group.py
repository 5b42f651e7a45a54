"""The ``Case moderators`` group: staff who work the queue, without access to tokens or projects."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Case moderators"
# Moderators view, file and edit cases, and view, upload and edit their files. Nothing is deleted
# in the admin, and tokens, organisations and projects stay with the operators.
PERMISSIONS = [
    ("case", "view"),
    ("case", "add"),
    ("case", "change"),
    ("attachment", "view"),
    ("attachment", "add"),
    ("attachment", "change"),
]


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate); this
    # migration needs them now. The live app config only passes create_permissions' check
    # that the app has models; the models and tables used are the historical ones.
    db = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("cases"), verbosity=0, apps=apps, using=db)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    codenames = [f"{action}_{model}" for model, action in PERMISSIONS]
    group.permissions.add(
        *Permission.objects.using(db).filter(content_type__app_label="cases", codename__in=codenames)
    )


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
