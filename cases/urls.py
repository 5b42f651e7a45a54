from serverops.routers import OptionalSlashRouter

from .player_views import PlayerViewSet
from .views import CaseViewSet

router = OptionalSlashRouter()
router.register("cases", CaseViewSet, basename="case")
router.register("players", PlayerViewSet, basename="player")

urlpatterns = router.urls
