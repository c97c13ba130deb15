"""An expense Codat's duplicate protection says was written before, with no sync found that
wrote it, waits for support in a state of its own: "needs support"."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('expenses', '0016_support_groups_view_history'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='expense',
            name='expense_status_valid',
        ),
        migrations.RemoveConstraint(
            model_name='expense',
            name='expense_approval_only_when_approved',
        ),
        migrations.AlterField(
            model_name='expense',
            name='status',
            field=models.CharField(choices=[('uncategorized', 'To categorize'), ('categorized', 'Ready to approve'), ('approved', 'Approved'), ('pushing', 'Pushing'), ('syncing', 'In sync'), ('synced', 'Synced'), ('failed', 'Failed'), ('needs_support', 'Needs support'), ('excluded', 'Excluded')], default='uncategorized', max_length=16),
        ),
        migrations.AlterField(
            model_name='expenseevent',
            name='from_status',
            field=models.CharField(blank=True, choices=[('uncategorized', 'To categorize'), ('categorized', 'Ready to approve'), ('approved', 'Approved'), ('pushing', 'Pushing'), ('syncing', 'In sync'), ('synced', 'Synced'), ('failed', 'Failed'), ('needs_support', 'Needs support'), ('excluded', 'Excluded')], max_length=16),
        ),
        migrations.AlterField(
            model_name='expenseevent',
            name='to_status',
            field=models.CharField(blank=True, choices=[('uncategorized', 'To categorize'), ('categorized', 'Ready to approve'), ('approved', 'Approved'), ('pushing', 'Pushing'), ('syncing', 'In sync'), ('synced', 'Synced'), ('failed', 'Failed'), ('needs_support', 'Needs support'), ('excluded', 'Excluded')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='expense',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['uncategorized', 'categorized', 'approved', 'pushing', 'syncing', 'synced', 'failed', 'needs_support', 'excluded'])), name='expense_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='expense',
            constraint=models.CheckConstraint(condition=models.Q(('approved_at__isnull', True), ('status__in', ['approved', 'pushing', 'syncing', 'synced', 'failed', 'needs_support']), _connector='OR'), name='expense_approval_only_when_approved'),
        ),
    ]
