"""The generation of Codat's expenses API each company speaks. Every company so far spoke v1;
a company made from now on speaks `CODAT_EXPENSES_API_DEFAULT`."""

import companies.models
from django.db import migrations, models

CHOICES = [("v1", "Sync for Expenses v1"), ("expenses", "Expenses (newer)")]


class Migration(migrations.Migration):

    dependencies = [
        ("companies", "0007_support_groups"),
    ]

    operations = [
        # Existing rows take "v1" (a callable default would give them the setting's value).
        migrations.AddField(
            model_name="company",
            name="expenses_api",
            field=models.CharField(
                choices=CHOICES, default="v1", max_length=8, verbose_name="expenses API"
            ),
        ),
        migrations.AlterField(
            model_name="company",
            name="expenses_api",
            field=models.CharField(
                choices=CHOICES,
                default=companies.models.default_expenses_api,
                max_length=8,
                verbose_name="expenses API",
            ),
        ),
        migrations.AddConstraint(
            model_name="company",
            constraint=models.CheckConstraint(
                condition=models.Q(("expenses_api__in", ["v1", "expenses"])),
                name="company_expenses_api_valid",
            ),
        ),
    ]
