"""Job board URLs, mounted at /jobs/ (namespace "jobs")."""

from django.urls import path

from . import feeds, views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("feed.rss", feeds.JobsRss(), name="feed_rss"),
    path("feed.atom", feeds.JobsAtom(), name="feed_atom"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/apply/", views.apply, name="apply"),
    path("<int:pk>/edit/", views.job_edit, name="edit"),
    path("<int:pk>/preview/", views.job_preview, name="preview"),
    path("<int:pk>/publish/", views.job_publish, name="publish"),
    path("<int:pk>/close/", views.job_close, name="close"),
    path("<int:pk>/renew/", views.job_renew, name="renew"),
    path("<int:pk>/applicants/", views.applicants, name="applicants"),
    path("new/", views.job_new, name="new"),
    path("employer/", views.dashboard, name="dashboard"),
    path("employer/profile/", views.employer_profile, name="employer_profile"),
    path("logos/<int:pk>/<str:name>", views.logo, name="logo"),
    path("applications/", views.my_applications, name="my_applications"),
    path("applications/<int:pk>/", views.application_detail, name="application"),
    path("applications/<int:pk>/status/", views.application_status, name="application_status"),
    path("applications/<int:pk>/message/", views.application_message, name="application_message"),
    path("applications/<int:pk>/resume/", views.resume, name="resume"),
    path("alerts/", views.alert_save, name="alert_save"),
    path("alerts/<int:pk>/delete/", views.alert_delete, name="alert_delete"),
    path("alerts/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("moderation/", views.moderation, name="moderation"),
    path("moderation/<int:pk>/approve/", views.moderation_approve, name="approve"),
    path("moderation/<int:pk>/reject/", views.moderation_reject, name="reject"),
]
