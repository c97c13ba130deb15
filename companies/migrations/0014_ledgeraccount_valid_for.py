"""The accounts' `validFor` from the newer generation's mapping options; null until a pull
reads it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('companies', '0013_history_of_notice_choices'),
    ]

    operations = [
        migrations.AddField(
            model_name='ledgeraccount',
            name='valid_for',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
