"""The Celery application. Tasks live in each app's `tasks.py` and are found automatically."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

from sfe_portal.logs import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sfe_portal.settings")

app = Celery("sfe_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every task's log lines carry its id and the context of whoever sent it (sfe_portal/logs.py).
connect_celery_signals()


def freeze_startup_objects(**_: object) -> None:
    """Take what the process loaded at start-up out of the cyclic collector's sight.

    Django, Celery and the apps' modules make some 160,000 objects that live as long as the
    process, and a full collection walks them all; a push's claim, which builds a payload per
    expense, sets off several. Frozen (`gc.freeze`), they are never walked again; what tasks
    make is collected as before.
    """
    gc.freeze()


# In each prefork child once it is ready, and in the main process, which runs the tasks of the
# solo and threads pools (in prefork, it only supervises: freezing it costs nothing).
worker_process_init.connect(freeze_startup_objects, weak=False)
worker_ready.connect(freeze_startup_objects, weak=False)
