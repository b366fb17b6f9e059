"""Mounted at /consults/."""

from django.urls import path

from . import views

app_name = "consult"

urlpatterns = [
    path("", views.mine, name="mine"),
    path("<int:pk>/", views.thread, name="thread"),
    path("address/", views.new_address, name="new_address"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/<int:pk>/", views.review, name="review"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:pk>/retry/", views.retry, name="retry"),
]
