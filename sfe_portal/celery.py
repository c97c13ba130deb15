"""The Celery application. Tasks live in each app's `tasks.py` and are found automatically."""

import os

from celery import Celery

from sfe_portal.logs import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sfe_portal.settings")

app = Celery("sfe_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every task's log lines carry its id and the context of whoever sent it (sfe_portal/logs.py).
connect_celery_signals()
