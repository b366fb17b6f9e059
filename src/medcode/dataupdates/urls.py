from django.urls import path

from . import views

urlpatterns = [
    path("", views.staff_page, name="data_updates"),
]
