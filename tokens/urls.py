from serverops.routers import OptionalSlashRouter

from .views import MemberViewSet, TokenViewSet

router = OptionalSlashRouter()
router.register("members", MemberViewSet, basename="member")
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = router.urls
