from django.apps import AppConfig


class DataUpdatesConfig(AppConfig):
    name = "medcode.dataupdates"
    label = "dataupdates"
    verbose_name = "Official data updates"
    default_auto_field = "django.db.models.BigAutoField"
