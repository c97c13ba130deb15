"""Foreign keys' own indexes that another index of the same table starts with: that index
serves every read the foreign key's did, and each one fewer is less to write on every insert
and update. Only the indexes go; the constraints stay as they are (re-creating them, as a
plain AlterField would, re-checks every row of each table under lock)."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [  # (index, table, column)
    ("syncs_pushbatch_company_id_3fb5b38c", "syncs_pushbatch", "company_id"),
    ("syncs_sync_company_id_c2da2aa0", "syncs_sync", "company_id"),
    ("syncs_receiptupload_receipt_id_2534c709", "syncs_receiptupload", "receipt_id"),
    ("syncs_synctransaction_expense_id_2fa00ce3", "syncs_synctransaction", "expense_id"),
    ("syncs_synctransaction_sync_id_6007a774", "syncs_synctransaction", "sync_id"),
    ("syncs_codatexchange_company_id_278187b2", "syncs_codatexchange", "company_id"),
    ("syncs_codatcallslot_company_id_155eaa05", "syncs_codatcallslot", "company_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("companies", "0003_fk_indexes_another_index_starts_with"),
        ("expenses", "0008_fk_indexes_another_index_starts_with"),
        ("syncs", "0009_batch_item_batch_index_dropped"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="codatcallslot",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="codat_call_slots",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="codatexchange",
                    name="company",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="codat_exchanges",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="pushbatch",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="push_batches",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="receiptupload",
                    name="receipt",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="uploads",
                        to="expenses.receipt",
                    ),
                ),
                migrations.AlterField(
                    model_name="sync",
                    name="company",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="syncs",
                        to="companies.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="synctransaction",
                    name="expense",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="sync_transactions",
                        to="expenses.expense",
                    ),
                ),
                migrations.AlterField(
                    model_name="synctransaction",
                    name="sync",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="transactions",
                        to="syncs.sync",
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
