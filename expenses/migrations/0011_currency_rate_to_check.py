from decimal import Decimal

from django.db import migrations, models
from django.utils import timezone

# Statuses whose expense has not gone to Codat and is not on its way there.
UNSENT = ("uncategorized", "categorized", "approved", "failed")
# Moved back to coding, as the readiness check moves an expense that has a problem.
SENT_BACK = ("categorized", "approved")


def _reason(rate, currency, base):
    foreign = currency if currency != base else "the card account's currency"
    return (
        f"This rate ({rate.normalize():f}) was typed in when the page asked how many {foreign} "
        f"make one {base}; Codat reads the rate the other way round, as what 1 {foreign} is "
        f"worth in {base}."
    )[:500]


def flag_rates_typed_under_the_old_label(apps, schema_editor):
    """Unsent expenses whose current rate was typed on the expense page are flagged for a person
    to check. Nothing is converted: the rate may have been typed either way."""
    Expense = apps.get_model("expenses", "Expense")
    ExpenseEvent = apps.get_model("expenses", "ExpenseEvent")
    typed = {}
    events = ExpenseEvent.objects.filter(
        kind="coded", message__contains="currency rate", expense__status__in=UNSENT
    ).order_by("created_at", "id")
    for event in events.values("expense_id", "data").iterator():
        data = event["data"] or {}
        before, after = data.get("before") or {}, data.get("after") or {}
        if "currency_rate" in after and before.get("currency_rate") != after["currency_rate"]:
            typed[event["expense_id"]] = after["currency_rate"]
    now = timezone.now()
    for expense in Expense.objects.filter(pk__in=list(typed)).select_related("company"):
        if expense.currency_rate is None or typed[expense.pk] is None:
            continue
        if Decimal(typed[expense.pk]) != expense.currency_rate:
            continue  # the rate was changed since by the API or an import
        reason = _reason(expense.currency_rate, expense.currency, expense.company.base_currency)
        changes = {"currency_rate_to_check": reason, "needs_recoding_reason": reason}
        if expense.status in SENT_BACK:
            changes.update(
                status="uncategorized",
                status_changed_at=now,
                approved_by=None,
                approved_at=None,
            )
            ExpenseEvent.objects.create(
                expense_id=expense.pk,
                kind="status",
                from_status=expense.status,
                to_status="uncategorized",
                message=("Needs recoding: " + reason)[:1000],
                data={},
            )
        ExpenseEvent.objects.create(
            expense_id=expense.pk,
            kind="needs_recoding",
            message=reason,
            data={"currency_rate": str(expense.currency_rate)},
        )
        Expense.objects.filter(pk=expense.pk).update(updated_at=now, **changes)


class Migration(migrations.Migration):
    dependencies = [
        ("expenses", "0010_event_actor_index_only_where_set"),
    ]

    operations = [
        migrations.AddField(
            model_name="expense",
            name="currency_rate_to_check",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.RunPython(flag_rates_typed_under_the_old_label, migrations.RunPython.noop),
    ]
