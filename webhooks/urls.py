from serverops.routers import OptionalSlashRouter

from .views import EventFeedViewSet

router = OptionalSlashRouter()
router.register("events", EventFeedViewSet, basename="event")

urlpatterns = router.urls
