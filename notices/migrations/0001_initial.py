"""Failure notices: events, the dispatches that tell of them, their steps and deliveries."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('companies', '0012_membership_notices'),
        ('syncs', '0014_expenses_api_stamps_and_batch_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='DigestRound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(unique=True)),
                ('made_at', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='NoticeDispatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('events', 'Failures as they happen'), ('digest', 'Daily digest')], max_length=8)),
                ('state', models.CharField(choices=[('pending', 'Collecting events'), ('sending', 'Sending'), ('retrying', 'Waiting to try again'), ('sent', 'Sent'), ('failed', 'Gave up')], default='pending', max_length=8)),
                ('due_at', models.DateTimeField()),
                ('digest_day', models.DateField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('subject', models.CharField(blank=True, max_length=300)),
                ('body', models.TextField(blank=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='companies.company')),
            ],
            options={
                'verbose_name_plural': 'notice dispatches',
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='NoticeDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel', models.CharField(max_length=20)),
                ('recipients', models.TextField(blank=True)),
                ('sent_at', models.DateTimeField()),
                ('dispatch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='notices.noticedispatch')),
            ],
            options={
                'verbose_name_plural': 'notice deliveries',
            },
        ),
        migrations.CreateModel(
            name='DispatchStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(choices=[('pending', 'Collecting events'), ('sending', 'Sending'), ('retrying', 'Waiting to try again'), ('sent', 'Sent'), ('failed', 'Gave up')], max_length=8)),
                ('at', models.DateTimeField()),
                ('note', models.TextField(blank=True)),
                ('dispatch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='steps', to='notices.noticedispatch')),
            ],
            options={
                'ordering': ['at', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='NoticeEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200, unique=True)),
                ('kind', models.CharField(choices=[('sync_failed', 'Expenses failed to sync'), ('disconnected', 'Company disconnected'), ('push_stalled', 'Push stalled'), ('receipt_gave_up', 'Receipt not attached')], max_length=16)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('occurred_at', models.DateTimeField()),
                ('company', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='companies.company')),
                ('dispatch', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='events', to='notices.noticedispatch')),
                ('sync', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='syncs.sync')),
            ],
            options={
                'ordering': ['occurred_at', 'pk'],
            },
        ),
        migrations.AddIndex(
            model_name='noticedispatch',
            index=models.Index(fields=['state', 'due_at'], name='noticedispatch_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='noticedispatch',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['events', 'digest'])), name='noticedispatch_kind_valid'),
        ),
        migrations.AddConstraint(
            model_name='noticedispatch',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['pending', 'sending', 'retrying', 'sent', 'failed'])), name='noticedispatch_state_valid'),
        ),
        migrations.AddConstraint(
            model_name='noticedispatch',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'events'), ('state', 'pending')), fields=('company',), name='noticedispatch_one_open_per_company'),
        ),
        migrations.AddConstraint(
            model_name='noticedispatch',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'digest')), fields=('company', 'digest_day'), name='noticedispatch_one_digest_a_day'),
        ),
        migrations.AddConstraint(
            model_name='noticedispatch',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('digest_day__isnull', True), ('kind', 'events')), models.Q(('digest_day__isnull', False), ('kind', 'digest')), _connector='OR'), name='noticedispatch_digest_has_day'),
        ),
        migrations.AddConstraint(
            model_name='noticedelivery',
            constraint=models.UniqueConstraint(fields=('dispatch', 'channel'), name='noticedelivery_once'),
        ),
        migrations.AddConstraint(
            model_name='noticeevent',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['sync_failed', 'disconnected', 'push_stalled', 'receipt_gave_up'])), name='noticeevent_kind_valid'),
        ),
    ]
