from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "medcode.web"
    label = "web"
