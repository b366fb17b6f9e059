from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/keys/", include("medcode.accounts.apikey_urls")),
    path("account/", include("medcode.accounts.urls")),
    path("", include("medcode.api.urls")),  # /api/v1/
    path("", include("medcode.web.urls")),
]

handler404 = "medcode.web.views.not_found"
handler500 = "medcode.web.views.server_error"
