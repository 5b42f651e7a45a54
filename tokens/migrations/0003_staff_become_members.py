"""Today's staff keep working once the admin is isolated by organisation (docs/operations.md#members).

Superusers need no membership. Every other staff user becomes a moderator of every organisation
that exists when this migration runs; narrow that afterwards in the admin's Members page or with
``manage.py add_member``. Reversing removes only the memberships this migration could have made
(moderators), which is all there was before it.
"""

from django.db import migrations


def staff_become_moderators(apps, schema_editor):
    db = schema_editor.connection.alias
    User = apps.get_model("auth", "User")
    Organisation = apps.get_model("tokens", "Organisation")
    Member = apps.get_model("tokens", "Member")
    from serverops.ids import new_member_id

    organisations = list(Organisation.objects.using(db).values_list("pk", flat=True))
    staff = User.objects.using(db).filter(is_staff=True, is_superuser=False).values_list("pk", flat=True)
    Member.objects.using(db).bulk_create(
        [Member(id=new_member_id(), organisation_id=org, user_id=user, role="moderator") for user in staff for org in organisations],
        ignore_conflicts=True,
    )


def forget_members(apps, schema_editor):
    apps.get_model("tokens", "Member").objects.using(schema_editor.connection.alias).filter(role="moderator").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("tokens", "0002_member"),
    ]

    operations = [migrations.RunPython(staff_become_moderators, forget_members)]
