from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/keys/", include("medcode.accounts.apikey_urls")),
    path("account/", include("medcode.accounts.urls")),
    path("", include("medcode.api.urls")),  # /api/v1/
    path("", include("medcode.conversations.urls")),  # /assistant, /references/...
    path("jobs/", include("medcode.careers.urls")),  # the job board
    path("consults/", include("medcode.consult.urls")),  # email consult: My consults, review queue, delivery log
    path("staff/data-updates/", include("medcode.dataupdates.urls")),  # official data update checks (staff)
    path("", include("medcode.web.urls")),
]

handler404 = "medcode.web.views.not_found"
handler500 = "medcode.web.views.server_error"
