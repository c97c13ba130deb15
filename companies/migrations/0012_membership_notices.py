"""What each member hears of the company's failures; empty: their role's default."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('companies', '0011_history_of_access_and_configuration'),
    ]

    operations = [
        migrations.AddField(
            model_name='membership',
            name='notices',
            field=models.CharField(blank=True, choices=[('every', 'Every failure, as it happens'), ('digest', 'A daily digest of what is still failing'), ('none', 'Nothing')], max_length=8),
        ),
        migrations.AddConstraint(
            model_name='membership',
            constraint=models.CheckConstraint(condition=models.Q(('notices', ''), ('notices__in', ['every', 'digest', 'none']), _connector='OR'), name='membership_notices_valid'),
        ),
    ]
