"""The exchange log and the call slots now belong to the `gateway` app, which took them over
with their tables (gateway/migrations/0001_initial.py): only Django's idea of which app holds
them changes here, nothing in the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0001_initial"),
        ("syncs", "0011_codat_exchange_idempotency_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="CodatExchange"),
                migrations.DeleteModel(name="CodatCallSlot"),
            ],
            database_operations=[],
        ),
    ]
