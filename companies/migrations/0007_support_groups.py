"""The support groups (companies/staff.py describes them): "Support (read-only)" views every
model of the portal's apps; "Support" also codes, approves and pushes in every company (the
permission the admin's "Push approved expenses now" needs), connects companies and runs the
admin's support actions. A copy of companies.staff.SUPPORT_GROUPS as it was when written."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

APPS = ("accounts", "companies", "expenses", "syncs")
GROUPS = {
    "Support (read-only)": (),
    "Support": (
        "companies.change_company",
        "companies.add_company",
        "syncs.change_sync",
        "syncs.change_receiptupload",
        "accounts.change_signinlockout",
    ),
}


def groups_create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # Permissions are made after the last migration; these groups need them now.
    for label in APPS:
        config = apps.get_app_config(label)
        config.models_module = True  # type: ignore[assignment]
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    views = list(
        permission_model.objects.filter(
            content_type__app_label__in=APPS, codename__startswith="view_"
        )
    )
    for name, extra in GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = [
            permission_model.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in (item.split(".") for item in extra)
        ]
        group.permissions.add(*views, *wanted)


def groups_delete(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0002_signin_names"),
        ("companies", "0006_invitation"),
        ("expenses", "0013_expenseevent_as_staff"),
        ("syncs", "0010_fk_indexes_another_index_starts_with"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
