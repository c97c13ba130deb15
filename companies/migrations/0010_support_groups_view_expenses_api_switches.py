"""Both support groups view every model of the portal's apps (companies/staff.py): the record of
the cut-over, new in 0009, too."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

GROUPS = ("Support (read-only)", "Support")
CODENAME = "view_expensesapiswitch"


def _permission(apps: Apps) -> object:
    # Permissions are made after the last migration; this one is needed now.
    config = apps.get_app_config("companies")
    config.models_module = True  # type: ignore[assignment]
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="companies", codename=CODENAME
    )


def view_granted(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    permission = _permission(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.add(permission)


def view_withdrawn(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    permission = _permission(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("companies", "0009_expenses_api_switch"),
    ]

    operations = [migrations.RunPython(view_granted, view_withdrawn)]
