"""The service's URLs, plus the benchmark's comparators (benchmark only):

- ``/bench/baseline/v1/``: the API's work, hand-written (``bench.baseline``);
- ``/bench/drf/v1/``: stock DRF generic classes on the same table (``bench.stock``);
- ``/bench/minimal/v1/``: the least a plain view does (``bench.minimal``);
- ``/bench/plain/v1/``: the players benchmark's plain lookups (``bench.players_plain``).
"""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from bench import baseline, minimal, players_plain, stock
from serverops.urls import handler400, handler403, handler404, handler500  # noqa: F401

stock_router = SimpleRouter(trailing_slash=False)
stock_router.register("cases", stock.CaseViewSet, basename="stock-case")

urlpatterns = [
    path("bench/baseline/v1/cases", baseline.case_list),
    path("bench/baseline/v1/cases/<str:case_id>", baseline.case_detail),
    path("bench/minimal/v1/cases", minimal.case_list),
    path("bench/minimal/v1/cases/<str:case_id>", minimal.case_detail),
    path("bench/drf/v1/", include(stock_router.urls)),
    path("bench/plain/v1/players", players_plain.players),
    path("bench/plain/v1/cases", players_plain.cases),
    path("", include("serverops.urls")),
]
