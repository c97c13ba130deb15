"""Who moved a company between generations of Codat's expenses API, when and from where."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0008_company_expenses_api"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExpensesApiSwitch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "from_api",
                    models.CharField(
                        choices=[("v1", "Sync for Expenses v1"), ("expenses", "Expenses (newer)")],
                        max_length=8,
                        verbose_name="from",
                    ),
                ),
                (
                    "to_api",
                    models.CharField(
                        choices=[("v1", "Sync for Expenses v1"), ("expenses", "Expenses (newer)")],
                        max_length=8,
                        verbose_name="to",
                    ),
                ),
                (
                    "via",
                    models.CharField(
                        choices=[
                            ("portal", "Company settings page"),
                            ("admin", "Admin action"),
                            ("command", "manage.py expenses_api"),
                        ],
                        max_length=8,
                    ),
                ),
                ("switched_at", models.DateTimeField()),
                ("sent_back_to_coding", models.PositiveIntegerField(default=0)),
                ("summary", models.TextField(blank=True)),
                (
                    "company",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="expenses_api_switches",
                        to="companies.company",
                    ),
                ),
                (
                    "switched_by",
                    models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "expenses API switch",
                "verbose_name_plural": "expenses API switches",
                "ordering": ["-switched_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["company", "-switched_at"], name="expensesapiswitch_company_idx"
                    ),
                    models.Index(
                        condition=models.Q(("switched_by__isnull", False)),
                        fields=["switched_by"],
                        name="expensesapiswitch_by_idx",
                    ),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("from_api__in", ["v1", "expenses"])),
                        name="expensesapiswitch_from_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("to_api__in", ["v1", "expenses"])),
                        name="expensesapiswitch_to_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("via__in", ["portal", "admin", "command"])),
                        name="expensesapiswitch_via_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("from_api", models.F("to_api")), _negated=True),
                        name="expensesapiswitch_moves",
                    ),
                ],
            },
        ),
    ]
