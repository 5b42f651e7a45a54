"""The service's URLs, plus the baseline views under /bench/baseline/v1/ (benchmark only)."""

from django.urls import include, path

from bench import baseline
from serverops.urls import handler400, handler403, handler404, handler500  # noqa: F401

urlpatterns = [
    path("bench/baseline/v1/cases", baseline.case_list),
    path("bench/baseline/v1/cases/<str:case_id>", baseline.case_detail),
    path("", include("serverops.urls")),
]
