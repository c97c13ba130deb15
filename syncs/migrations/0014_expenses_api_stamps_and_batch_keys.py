"""Each sync and batch keeps the generation of Codat's expenses API it was written through
(every row so far: v1), and a batch whose sending writes to the ledger its `Idempotency-Key`
and when it was first sent under it."""

from django.db import migrations, models

CHOICES = [("v1", "Sync for Expenses v1"), ("expenses", "Expenses (newer)")]


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0008_company_expenses_api"),
        ("syncs", "0013_one_call_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="pushbatch",
            name="expenses_api",
            field=models.CharField(
                choices=CHOICES, default="v1", max_length=8, verbose_name="expenses API"
            ),
        ),
        migrations.AddField(
            model_name="pushbatch",
            name="idempotency_key",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="pushbatch",
            name="key_first_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sync",
            name="expenses_api",
            field=models.CharField(
                choices=CHOICES, default="v1", max_length=8, verbose_name="expenses API"
            ),
        ),
        migrations.AddConstraint(
            model_name="pushbatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("expenses_api__in", ["v1", "expenses"])),
                name="pushbatch_expenses_api_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="sync",
            constraint=models.CheckConstraint(
                condition=models.Q(("expenses_api__in", ["v1", "expenses"])),
                name="sync_expenses_api_valid",
            ),
        ),
    ]
