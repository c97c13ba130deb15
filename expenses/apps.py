from django.apps import AppConfig


class ExpensesConfig(AppConfig):
    name = "expenses"

    def ready(self) -> None:
        from companies.signals import master_data_pulled
        from expenses.recheck import recheck_on_master_data_pulled

        # Every master-data pull is followed by the recheck of the expenses coded against it.
        master_data_pulled.connect(recheck_on_master_data_pulled)
