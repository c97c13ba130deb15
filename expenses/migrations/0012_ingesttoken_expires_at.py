from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("expenses", "0011_currency_rate_to_check"),
    ]

    operations = [
        migrations.AddField(
            model_name="ingesttoken",
            name="expires_at",
            field=models.DateTimeField(
                blank=True,
                help_text="From this moment the API refuses the key, saying it expired. "
                "Empty: it does not expire.",
                null=True,
            ),
        ),
    ]
