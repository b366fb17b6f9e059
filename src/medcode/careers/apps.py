from django.apps import AppConfig


class CareersConfig(AppConfig):
    name = "medcode.careers"
    label = "careers"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete

        from . import actions
        from .models import Application, Employer

        # An account's applications, employer profile, jobs and alerts go with it by CASCADE (also when
        # accounts.actions.delete_account removes it); their files follow each deleted row.
        for model in (Application, Employer):
            post_delete.connect(actions.delete_files_with, sender=model, dispatch_uid=f"careers.files.{model.__name__}")
