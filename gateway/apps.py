from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Codat gateway"

    def ready(self) -> None:
        from celery.signals import celeryd_after_setup

        from gateway.apis import expenses_api_generation
        from gateway.signals import call_slots_release_on_worker_start

        # A process with an unknown generation refuses to start, rather than fail its first push.
        expenses_api_generation()
        celeryd_after_setup.connect(call_slots_release_on_worker_start, weak=False)
