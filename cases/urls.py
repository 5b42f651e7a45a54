from django.urls import re_path

from serverops.routers import OptionalSlashRouter

from .player_views import PlayerViewSet
from .views import CaseViewSet, ExportKeyView

router = OptionalSlashRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("players", PlayerViewSet, basename="player")

urlpatterns = [
    re_path(r"^export-key/?$", ExportKeyView.as_view(), name="export-key"),
    *router.urls,
]
