from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Codat gateway"

    def ready(self) -> None:
        from gateway.apis import expenses_api_generation

        # A process with an unknown generation refuses to start, rather than fail its first push.
        expenses_api_generation()
