from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "companies"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from companies.models import MasterData
        from companies.services import master_data_record_written

        # Bulk writes (the refresh) give the new version themselves; these catch a record
        # written on its own, by admin or anything else.
        for model in MasterData.__subclasses__():
            post_save.connect(master_data_record_written, sender=model)
            post_delete.connect(master_data_record_written, sender=model)
