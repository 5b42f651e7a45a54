"""The ``Case moderators`` group reviews files: it sees the file review queue and marks files
clean, flagged or blocked. Files are not added or deleted in the admin (the API does both)."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Case moderators"
CODENAMES = ["view_file", "change_file"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate); this one needs them now.
    db = schema_editor.connection.alias
    create_permissions(global_apps.get_app_config("media"), verbosity=0, apps=apps, using=db)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.using(db).filter(content_type__app_label="media", codename__in=CODENAMES)
    )


def revoke(apps, schema_editor):
    db = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.using(db).filter(name=GROUP):
        group.permissions.remove(
            *Permission.objects.using(db).filter(content_type__app_label="media", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("media", "0001_initial"),
        ("cases", "0002_case_moderators_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
