from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The Codat emulator. It shares nothing with the portal apps but the process."""

    name = "sandbox"
    verbose_name = "Codat sandbox"
