from typing import Any

from django.conf import settings
from django.db import migrations, models

BATCH = 2_000


def fill_merchant_keys(apps: Any, schema_editor: Any) -> None:
    """Existing expenses get the key their merchant name normalises to, a batch at a time."""
    from expenses.models import merchant_key

    expense_model = apps.get_model("expenses", "Expense")
    batch = []
    for expense in expense_model.objects.only("id", "merchant_name").iterator(chunk_size=BATCH):
        expense.merchant_key = merchant_key(expense.merchant_name)
        batch.append(expense)
        if len(batch) == BATCH:
            expense_model.objects.bulk_update(batch, ["merchant_key"])
            batch = []
    if batch:
        expense_model.objects.bulk_update(batch, ["merchant_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0002_company_steps_and_errors"),
        ("expenses", "0003_queue_text_search_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="expense",
            name="merchant_key",
            field=models.CharField(blank=True, editable=False, max_length=300),
        ),
        migrations.RunPython(fill_merchant_keys, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="expense",
            index=models.Index(
                condition=models.Q(
                    ("status__in", ("categorized", "approved", "pushing", "syncing", "synced"))
                ),
                fields=["company", "merchant_key", "-issue_date", "-id"],
                name="expense_merchant_history_idx",
            ),
        ),
    ]
