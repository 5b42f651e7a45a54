from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, reverse_lazy
from drf_spectacular.views import SpectacularSwaggerView

from media import serving

from . import health, metrics, not_found, views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("v1/", include("cases.urls")),
    path("v1/", include("media.urls")),
    path("v1/", include("tokens.urls")),
    path("v1/", include("webhooks.urls")),
    path("v1/openapi.json", views.OpenApiJsonView.as_view(), name="openapi-json"),
    path("v1/openapi.yaml", views.OpenApiYamlView.as_view(), name="openapi-yaml"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-json"), name="docs"),
    re_path(r"^v1(?:/|$)", not_found.api_not_found),
    # The link of the set-password email a new member gets (tokens.services.member_invite_email).
    path(
        "admin/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("password_reset_complete")),
        name="password_reset_confirm",
    ),
    path("admin/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("admin/", admin.site.urls),
    # Files on the service's own disk (media.serving); nothing under /media/ maps straight to MEDIA_ROOT.
    re_path(r"^media/(?P<name>.+)$", serving.serve_file, name="media-file"),
    re_path(r"^media/", serving.not_found),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
