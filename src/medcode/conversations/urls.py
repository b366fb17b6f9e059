from django.urls import path

from . import views

urlpatterns = [
    path("assistant", views.assistant, name="assistant"),
    path("assistant/stream", views.stream, name="assistant_stream"),
    path("assistant/c/<str:cid>", views.conversation, name="assistant_conversation"),
    path("references/<str:source>/<path:ref>", views.reference, name="reference"),
]
