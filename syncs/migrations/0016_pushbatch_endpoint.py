"""A batch of the newer generation is written through one endpoint: its expenses, or one
transfer. Every batch so far was expense transactions."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('syncs', '0015_sync_push_id'),
    ]

    operations = [
        migrations.AddField(
            model_name='pushbatch',
            name='endpoint',
            field=models.CharField(choices=[('expense-transactions', 'Expense transactions'), ('transfer-transactions', 'Transfer (one a batch)')], default='expense-transactions', editable=False, max_length=40),
        ),
        migrations.AddConstraint(
            model_name='pushbatch',
            constraint=models.CheckConstraint(condition=models.Q(('endpoint__in', ['expense-transactions', 'transfer-transactions'])), name='pushbatch_endpoint_valid'),
        ),
    ]
