from django.contrib import admin
from django.urls import path

from comptoir.config.api import api
from comptoir.core.views import healthz, home, readyz

admin.site.site_header = "Comptoir"
admin.site.site_title = "Comptoir administration"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
