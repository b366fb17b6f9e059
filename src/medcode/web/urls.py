from django.urls import path

from . import case2code_views, edits_views, search_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/ping", views.ping, name="ping"),
    path("codes/<str:system>/<str:code>", views.code_page, name="code"),
    path("browse/", views.browse_index, name="browse"),
    path("browse/<str:system>/", views.browse, name="browse_system"),
    path("browse/<str:system>/<str:node>", views.browse, name="browse_node"),
    path("guidelines/", views.guideline_index, name="guidelines"),
    path("guidelines/<str:ref>", views.guideline, name="guideline"),
    path("search", search_views.search_page, name="search"),
    path("search/suggest", search_views.suggest, name="search_suggest"),
    path("edits/check", edits_views.check, name="edits_check"),
    path("case2code", case2code_views.case2code, name="case2code"),
]
