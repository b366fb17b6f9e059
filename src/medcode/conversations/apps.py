from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "medcode.conversations"
    label = "conversations"
    verbose_name = "Assistant conversations"
