"""The service's URLs plus the upload benchmark's plain view (``bench.upload_settings`` only)."""

import os

from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from serverops.ids import new_file_id
from serverops.urls import handler400, handler403, handler404, handler500  # noqa: F401


@csrf_exempt
def plain_upload(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do with an upload: the part ``file`` to the default storage, 201."""
    upload = request.FILES["file"]
    name = default_storage.save(f"bench-plain/{new_file_id()}/{os.path.basename(upload.name or 'file')}", upload)
    return JsonResponse({"key": name}, status=201)


urlpatterns = [
    path("bench/upload/plain", plain_upload),
    path("", include("serverops.urls")),
]
