"""Trigram indexes for the queue's text filters on PostgreSQL; nothing on SQLite.

The queue's search is `icontains`, which Django renders on PostgreSQL as
`UPPER(column::text) LIKE UPPER('%…%')`; a GIN trigram index on that expression turns it from a
scan of every expense of the company into an index lookup. SQLite has no such index type, and
its single-company databases are small.
"""

from django.db import migrations

COLUMNS = ("merchant_name", "notes", "employee_name", "card_label")


def _create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS expense_{column}_trgm_idx ON expenses_expense "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS expense_{column}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("expenses", "0002_ingest_token")]

    operations = [migrations.RunPython(_create, _drop)]
