"""The events' actor is indexed only where an event has one: a push writes three events for
every expense, none with an actor, and each was one more index entry to write. Deleting a user
still finds their events through the index. Only the index changes; the constraint stays as it
is (re-creating it, as a plain AlterField would, re-checks every row under lock)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ACTOR_INDEX = "expenses_expenseevent_actor_id_7f0e8471"


class Migration(migrations.Migration):
    dependencies = [
        ("expenses", "0009_partial_indexes_push_moves_skip"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="expenseevent",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {ACTOR_INDEX}",
                    reverse_sql=(
                        f"CREATE INDEX {ACTOR_INDEX} ON expenses_expenseevent (actor_id)"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="expenseevent",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)),
                fields=["actor"],
                name="expenseevent_actor_idx",
            ),
        ),
    ]
