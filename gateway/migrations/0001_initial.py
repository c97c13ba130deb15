"""The exchange log and the call slots, moved from `syncs` with the tables they have there:
this changes Django's idea of which app holds them, and nothing in the database."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("companies", "0007_support_groups"),
        ("syncs", "0011_codat_exchange_idempotency_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CodatExchange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("method", models.CharField(max_length=8)),
                        ("path", models.CharField(max_length=1000)),
                        ("status", models.PositiveSmallIntegerField(blank=True, null=True)),
                        ("duration_ms", models.PositiveIntegerField(default=0)),
                        ("correlation_id", models.CharField(blank=True, max_length=200)),
                        ("request_body", models.TextField(blank=True)),
                        ("response_body", models.TextField(blank=True)),
                        ("error", models.CharField(blank=True, max_length=500)),
                        ("idempotency_key", models.CharField(blank=True, max_length=64)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "company",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="codat_exchanges",
                                to="companies.company",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "syncs_codatexchange",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(
                                fields=["company", "-created_at"], name="codatexchange_company_idx"
                            ),
                            models.Index(
                                fields=["correlation_id"], name="codatexchange_correlation_idx"
                            ),
                            models.Index(
                                condition=models.Q(("idempotency_key", ""), _negated=True),
                                fields=["idempotency_key"],
                                name="codatexchange_idem_key_idx",
                            ),
                            models.Index(fields=["-created_at"], name="codatexchange_recent_idx"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="CodatCallSlot",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("holder", models.CharField(max_length=200)),
                        ("acquired_at", models.DateTimeField()),
                        ("leased_until", models.DateTimeField()),
                        (
                            "company",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="codat_call_slots",
                                to="companies.company",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "syncs_codatcallslot",
                        "indexes": [
                            models.Index(
                                fields=["company", "leased_until"], name="callslot_company_idx"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
