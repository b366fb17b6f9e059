from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "medcode.scheduling"
    label = "scheduling"
    verbose_name = "Scheduled tasks"
    default_auto_field = "django.db.models.BigAutoField"
