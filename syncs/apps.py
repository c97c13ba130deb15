from django.apps import AppConfig


class SyncsConfig(AppConfig):
    name = "syncs"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from syncs.signals import heartbeat_on_worker_ready

        worker_ready.connect(heartbeat_on_worker_ready, weak=False)
