"""Both support groups view every model of the portal's apps (companies/staff.py): the histories
of access, configuration, rules and ingest keys, new in companies 0011 and expenses 0015, too."""

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

GROUPS = ("Support (read-only)", "Support")
VIEWS = (
    ("companies", "view_historicalmembership"),
    ("companies", "view_historicalcompanyconfiguration"),
    ("expenses", "view_historicalcategorizationrule"),
    ("expenses", "view_historicalingesttoken"),
)


def _permissions(apps: Apps) -> list[object]:
    # Permissions are made after the last migration; these are needed now.
    for label in ("companies", "expenses"):
        config = apps.get_app_config(label)
        config.models_module = True  # type: ignore[assignment]
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    permission = apps.get_model("auth", "Permission")
    return [
        permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in VIEWS
    ]


def views_granted(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    permissions = _permissions(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.add(*permissions)


def views_withdrawn(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    permissions = _permissions(apps)
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("companies", "0011_history_of_access_and_configuration"),
        ("expenses", "0015_history_of_rules_and_keys"),
    ]

    operations = [migrations.RunPython(views_granted, views_withdrawn)]
