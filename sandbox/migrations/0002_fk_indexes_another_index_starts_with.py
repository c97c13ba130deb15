"""Foreign keys' own indexes that another index of the same table starts with: that index
serves every read the foreign key's did, and each one fewer is less to write on every insert
and update. Only the indexes go; the constraints stay as they are (re-creating them, as a
plain AlterField would, re-checks every row of each table under lock)."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [  # (index, table, column)
    (
        "sandbox_sandboxledgerrecord_company_id_e9e36413",
        "sandbox_sandboxledgerrecord",
        "company_id",
    ),
    (
        "sandbox_sandboxsynctransaction_company_id_d6a6fa08",
        "sandbox_sandboxsynctransaction",
        "company_id",
    ),
    ("sandbox_sandboxdatastatus_company_id_76ca457a", "sandbox_sandboxdatastatus", "company_id"),
    ("sandbox_sandboxrecord_company_id_8a91c250", "sandbox_sandboxrecord", "company_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("sandbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sandboxdatastatus",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="data_status",
                        to="sandbox.sandboxcompany",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxledgerrecord",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="ledger",
                        to="sandbox.sandboxcompany",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxrecord",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="records",
                        to="sandbox.sandboxcompany",
                    ),
                ),
                migrations.AlterField(
                    model_name="sandboxsynctransaction",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="sandbox.sandboxcompany",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    reverse_sql=f"CREATE INDEX {index} ON {table} ({column})",
                )
                for index, table, column in INDEXES
            ],
        ),
    ]
