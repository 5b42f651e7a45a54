from django.contrib import admin
from django.urls import include, path, re_path
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
    path("v1/openapi.json", views.OpenApiJsonView.as_view(), name="openapi-json"),
    path("v1/openapi.yaml", views.OpenApiYamlView.as_view(), name="openapi-yaml"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-json"), name="docs"),
    re_path(r"^v1(?:/|$)", not_found.api_not_found),
    path("admin/", admin.site.urls),
    # Files on the service's own disk (media.serving); nothing under /media/ maps straight to MEDIA_ROOT.
    re_path(r"^media/(?P<name>.+)$", serving.serve_file, name="media-file"),
    re_path(r"^media/", serving.not_found),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
