from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Canonical paths have no trailing slash; the slashed forms are served as they are,
    not redirected (a redirected PATCH loses its body in many clients)."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
        self.trailing_slash = "/?"
