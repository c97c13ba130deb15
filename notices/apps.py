from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "notices"

    def ready(self) -> None:
        from companies.signals import company_disconnected
        from notices import recording
        from syncs.signals import push_stalled, receipt_upload_gave_up, sync_settled

        # Each event is recorded in the transaction of the change the lower app announces.
        sync_settled.connect(recording.on_sync_settled)
        company_disconnected.connect(recording.on_company_disconnected)
        push_stalled.connect(recording.on_push_stalled)
        receipt_upload_gave_up.connect(recording.on_receipt_upload_gave_up)
