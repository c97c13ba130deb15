from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.session_timeout import stamp_on_sign_in

        user_logged_in.connect(stamp_on_sign_in, dispatch_uid="accounts.session_timeout")

        from accounts.time_zones import remember_on_sign_in

        user_logged_in.connect(remember_on_sign_in, dispatch_uid="accounts.time_zones")

        from accounts.two_factor import owe_on_sign_in

        user_logged_in.connect(owe_on_sign_in, dispatch_uid="accounts.two_factor")
