from serverops.routers import OptionalSlashRouter

from .views import MediaViewSet

router = OptionalSlashRouter()
router.register("media", MediaViewSet, basename="media")

urlpatterns = router.urls
