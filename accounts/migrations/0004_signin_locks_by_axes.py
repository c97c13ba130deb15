"""Failed sign-ins and lockouts move to django-axes' tables (accounts/lockouts.py). The old rows
were transient (failures of the last minutes, locks of the last quarter-hour) and are dropped,
with the content type of the failures and so its permissions; the lockouts' stays, now the
admin's view of axes' rows, so the support groups keep viewing and lifting locks."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def failures_content_type_delete(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    content_type_model = apps.get_model("contenttypes", "ContentType")
    content_type_model.objects.filter(app_label="accounts", model="signinfailure").delete()
    content_type_model.objects.clear_cache()


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_profile_time_zone'),
        ('axes', '0010_accessattemptexpiration'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.DeleteModel(
            name='SignInFailure',
        ),
        migrations.DeleteModel(
            name='SignInLockout',
        ),
        migrations.CreateModel(
            name='SignInLockout',
            fields=[
            ],
            options={
                'verbose_name': 'sign-in lockout',
                'proxy': True,
                'indexes': [],
                'constraints': [],
            },
            bases=('axes.accessattempt',),
        ),
        migrations.RunPython(failures_content_type_delete, migrations.RunPython.noop),
    ]
