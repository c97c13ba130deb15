"""The moved models' content types go with them, and with those their permissions: the support
groups (companies/migrations/0007_support_groups.py) keep viewing the exchange log and the call
slots, and the admin's history of those rows keeps pointing at them.

Where the other app's content type exists too (made by a `migrate` that stopped between these
migrations), its permissions' grants are carried over to the moved ones before it is deleted."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

MODELS = ("codatexchange", "codatcallslot")


def content_types_move(apps: Apps, source: str, target: str) -> None:
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    log_entry_model = apps.get_model("admin", "LogEntry")
    for model in MODELS:
        moving = content_type_model.objects.filter(app_label=source, model=model).first()
        if moving is None:
            continue
        there = content_type_model.objects.filter(app_label=target, model=model).first()
        if there is None:
            moving.app_label = target
            moving.save(update_fields=["app_label"])
            continue
        for permission in permission_model.objects.filter(content_type=moving):
            twin = permission_model.objects.filter(
                content_type=there, codename=permission.codename
            ).first()
            if twin is None:
                permission.content_type = there
                permission.save(update_fields=["content_type"])
                continue
            for group in permission.group_set.all():
                group.permissions.add(twin)
            for user in permission.user_set.all():
                user.user_permissions.add(twin)
            permission.delete()
        log_entry_model.objects.filter(content_type=moving).update(content_type=there)
        moving.delete()
    content_type_model.objects.clear_cache()


def to_gateway(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    content_types_move(apps, "syncs", "gateway")


def to_syncs(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    content_types_move(apps, "gateway", "syncs")


class Migration(migrations.Migration):
    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("gateway", "0001_initial"),
        ("syncs", "0012_exchanges_and_call_slots_to_gateway"),
    ]

    operations = [migrations.RunPython(to_gateway, to_syncs)]
