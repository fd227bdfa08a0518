from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from comptoir.config.api import api
from comptoir.core.metrics.views import metrics
from comptoir.core.views import favicon, healthz, home, readyz
from comptoir.portal import auth

# An error met outside a view: a 503 when the database cannot be reached, the plain 500 otherwise.
handler500 = "comptoir.core.outage.server_error"

admin.site.site_header = "Comptoir"
admin.site.site_title = "Comptoir administration"

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),  # Prometheus, for authorised scrapers only
    path("favicon.ico", favicon, name="favicon"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    # The web UI: one sign-in for everyone, then the agents' workspace or the requesters' portal.
    path("start/", auth.start, name="start"),
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="core/auth/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="core/auth/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("portal/", include("comptoir.portal.urls")),
    path("desk/", include("comptoir.workspace.urls")),
]
