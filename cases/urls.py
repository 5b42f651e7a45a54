from serverops.routers import OptionalSlashRouter

from .views import CaseViewSet

router = OptionalSlashRouter()
router.register("cases", CaseViewSet, basename="case")

urlpatterns = router.urls
