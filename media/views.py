"""The media API (docs/api.md#files-and-evidence): a project's files, narrowed to the caller's project and mode."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from serverops.exceptions import InvalidValue
from serverops.ids import id_regex
from serverops.pagination import KeysetPagination
from tokens.models import Project, ScopedToken
from tokens.viewsets import ApiViewSet

from . import services
from .errors import FileNotFound, FileTooLarge
from .models import File, Visibility
from .schema import media_schema
from .serializers import Base64UploadSerializer, file_representation
from .storage import FileLinks
from .uploads import BASE64_FILE_LIMIT, FILE_PART, MIB, Base64JSONParser, InspectingUploadHandler, MediaMultiPartParser

FILE_ID = id_regex("f")
UPLOAD_FIELDS = ("folder", "tags", "visibility")
# ``data:image/jpeg;base64,…``, as FiveM's screenshot-basic and browsers' canvas.toDataURL give it.
DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.ASCII)
ASCII_SPACE = re.compile(rb"[ \t\r\n]+")


class FilePagination(KeysetPagination):
    results_key = "files"
    id_prefix = "f"


def _invalid(param: str, message: str) -> ValidationError:
    return ValidationError({param: [message]})


def decode_base64(text: str) -> bytes:
    """Standard base64 (RFC 4648 §4) as Lua and Roblox encoders write it: whitespace and missing
    padding are forgiven, anything else is a 400 naming ``data``; a decoded size over 10 MiB
    is a 413, found from the length before anything is decoded."""
    raw = ASCII_SPACE.sub(b"", text.encode("ascii", errors="replace"))
    if len(raw) // 4 * 3 > BASE64_FILE_LIMIT + 3:
        raise FileTooLarge(f"base64 data decodes to more than {BASE64_FILE_LIMIT // MIB} MiB")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("data", "data is not valid base64") from None
    if len(data) > BASE64_FILE_LIMIT:
        raise FileTooLarge(f"base64 data decodes to more than {BASE64_FILE_LIMIT // MIB} MiB")
    return data


@media_schema
class MediaViewSet(ApiViewSet):
    """``/v1/media``: upload (multipart or base64), list, read and delete the token's files."""

    pagination_class = FilePagination
    parser_classes = [MediaMultiPartParser]
    http_method_names = ["get", "post", "delete", "head"]
    required_scopes = {
        "list": "media:read",
        "retrieve": "media:read",
        "create": "media:write",
        "base64": "media:write",
        "destroy": "media:write",
    }
    query_parameters = {"list": ("folder", "tag", "limit", "cursor")}
    # Any id is accepted by the route so a malformed one gets "file not found", not "no such endpoint".
    lookup_value_regex = "[^/]+"

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Installed before anything can read the body: a multipart body is only ever read through it.
        self.upload_handler = InspectingUploadHandler(request)
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    @property
    def token(self) -> ScopedToken:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return token

    def _project(self) -> Project:
        # A reference by key: the insert needs the project's id, which the token row holds.
        return Project(pk=self.token.project_id)

    def get_queryset(self) -> QuerySet[File]:
        """All the token may see: its own project's files of its own mode (docs/api.md#projects-and-modes)."""
        return File.objects.filter(project_id=self.token.project_id, mode=self.token.mode)

    def _file_id(self) -> str:
        file_id: str = self.kwargs["pk"]
        if not FILE_ID.fullmatch(file_id):
            raise FileNotFound()
        return file_id

    def _respond(self, file: File, status_code: int = status.HTTP_200_OK, **headers: str) -> Response:
        return Response(file_representation(file, links=FileLinks(self.request)), status=status_code, headers=headers)

    def _created(self, file: File) -> Response:
        return self._respond(file, status.HTTP_201_CREATED, Location=f"/v1/media/{file.pk}")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        params = self.request.query_params
        if "folder" in params:
            # The rules a stored folder follows: a value outside them can match no file.
            queryset = queryset.filter(folder=services.clean_folder(params["folder"]))
        for tag in params.getlist("tag"):
            try:
                [tag] = services.clean_tags([tag])
            except InvalidValue:
                message = f"tag must be 1–{services.TAG_MAX_LENGTH} characters without control characters"
                raise _invalid("tag", message) from None
            queryset = queryset.filter(tags__has_item=tag)
        return queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        paginator = self.paginator
        assert paginator is not None
        page = paginator.paginate_queryset(self.filter_queryset(self.get_queryset()), request, view=self)
        links = FileLinks(request)
        return paginator.get_paginated_response([file_representation(file, links=links) for file in page or []])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return self._respond(self.get_queryset().get(pk=self._file_id()))
        except File.DoesNotExist:
            raise FileNotFound() from None

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.POST  # the form's fields; its files are in request.FILES
        for key in data:
            if key == FILE_PART:
                raise _invalid(FILE_PART, "file must be sent as a file part (with a filename)")
            if key not in UPLOAD_FIELDS:
                raise _invalid(key, f"unknown field; send only file, {', '.join(UPLOAD_FIELDS)}")
        for key in ("folder", "visibility"):
            if len(data.getlist(key)) > 1:
                raise _invalid(key, f"send {key} once")
        upload = request.FILES.get(FILE_PART)
        if upload is None or self.upload_handler.facts is None:
            raise _invalid(FILE_PART, "missing the file part (multipart/form-data, part named file)")
        visibility = data.get("visibility", Visibility.PRIVATE)
        try:
            file = services.file_create(
                project=self._project(),
                mode=self.token.mode,
                content=upload,
                original_name=self.upload_handler.original_name,
                facts=self.upload_handler.facts,
                tags=data.getlist("tags"),
                folder=data.get("folder", ""),
                visibility=visibility,
            )
        finally:
            # A temporary file is closed here, not by the garbage collector, which would
            # report it as already gone once the storage has moved it into place.
            upload.close()
        return self._created(file)

    @action(detail=False, methods=["post"], url_path="base64", parser_classes=[Base64JSONParser])
    def base64(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """For clients that cannot send multipart (FiveM/RedM Lua, Roblox): the bytes as base64 in JSON."""
        serializer = Base64UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        text: str = values.pop("data")
        declared = values.pop("content_type", None)
        prefix = DATA_URL.match(text)
        if prefix is not None:
            declared = declared or prefix.group(1)
            text = text[prefix.end() :]
        file = services.file_create(
            project=self._project(),
            mode=self.token.mode,
            content=io.BytesIO(decode_base64(text)),
            original_name=values.pop("filename"),
            declared_type=declared,
            **values,
        )
        return self._created(file)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            services.file_delete(files=self.get_queryset(), file_id=self._file_id())
        except File.DoesNotExist:
            raise FileNotFound() from None
        return Response(status=status.HTTP_204_NO_CONTENT)
