from django.apps import AppConfig


class ConsultConfig(AppConfig):
    name = "medcode.consult"
    label = "consult"
    verbose_name = "Email consult"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from medcode.accounts.actions import account_deleting

        from . import actions

        account_deleting.connect(actions.forget_account, dispatch_uid="consult-forget-account")
