"""Where a File's bytes open: the URL the API returns, and the two storages behind it.

Every storage the service runs on speaks the same small interface, ``MediaStorage``:
``media_url(name, *, expires_in, staff)`` gives a link to one stored object (stable when
``expires_in`` is None, signed and expiring otherwise) and ``set_public(name, public=…)`` tells
the store whether that object may be read without a signature. Which storage runs is a matter
of settings alone (``STORAGES["default"]``); ``file_url`` and the ``/media/`` route never ask which.

- ``FileSystemMediaStorage``: files on the service's own disk, served by ``media.serving`` under
  ``/media/``. Private links carry ``expires`` and an HMAC ``signature`` (keyed by ``SECRET_KEY``);
  the route refuses a link that is expired, tampered with or names a blocked file.
- ``S3MediaStorage``: any S3-compatible store through django-storages (boto3). Private links are
  the store's own pre-signed GET URLs, public ones its plain object URL (or the custom domain's);
  the service never proxies those bytes. Public objects get the ``public-read`` ACL, every other
  object stays private, so a blocked file stops opening at the store itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterator
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from botocore.exceptions import ClientError
from django.conf import DEFAULT_STORAGE_ALIAS, settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.utils.crypto import constant_time_compare
from django.utils.encoding import filepath_to_uri
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from serverops.conf import serverops_setting
from serverops.parsers import whole_number

if TYPE_CHECKING:
    from django.core.files import File as DjangoFile
    from django.core.files.storage import Storage
    from django.db.models.fields.files import FieldFile
    from django.http import HttpRequest

# The types a browser may render inline; everything else is offered as a download.
INLINE_CONTENT_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "video/mp4",
        "video/webm",
        "video/quicktime",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/x-wav",
        "audio/wave",
    }
)


def is_inline_type(content_type: str) -> bool:
    """Whether bytes of this type may open in the browser (image, video, audio) rather than download."""
    return content_type.split(";", 1)[0].strip().lower() in INLINE_CONTENT_TYPES


class LinkedFile(Protocol):
    """What ``FileLinks.url`` reads: a File (``media.models.File``), or a record of its row
    (``serverops.sql.record_type``), whose ``blob`` is the stored name."""

    @property
    def blob(self) -> FieldFile | str: ...
    @property
    def visibility(self) -> str: ...
    @property
    def abuse_status(self) -> str: ...


class StoredFile(LinkedFile, Protocol):
    """What ``file_url`` and the storage's other helpers read of a File."""

    @property
    def blob(self) -> FieldFile: ...


@runtime_checkable
class MediaStorage(Protocol):
    """The URL interface every storage of File bytes implements."""

    #: True when the service serves the bytes itself (``/media/``); False when the store does.
    served_by_service: bool

    def media_url(self, name: str, *, expires_in: int | None, staff: bool = False) -> str:
        """A link that opens the object ``name``.

        ``expires_in=None``: the stable link, which opens the bytes only while the object is
        public (``set_public``). A number of seconds: a signed link that opens them until then.
        ``staff=True`` (with ``expires_in``): the admin's link, which still opens a blocked file.
        The link may be relative to the site (``/media/…``); ``file_url`` makes it absolute.
        """
        ...

    def media_links(self, *, expires_in: int | None, staff: bool = False) -> Callable[[str], str]:
        """``media_url`` with these arguments, as a function of the name, for linking many objects:
        what their links share (the base URL, the expiry, the signing key) is worked out once."""
        ...

    def set_public(self, name: str, *, public: bool) -> None:
        """Let the store serve ``name`` without a signature, or stop it doing so."""
        ...

    def check_signature(self, name: str, *, expires: str, signature: str, staff: bool) -> bool:
        """For a storage the service serves: whether a link's ``expires``/``signature`` open ``name``."""
        ...

    def open(self, name: str, mode: str = "rb") -> DjangoFile[Any]: ...

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        """The bytes of ``name``, read from the store ``size`` at a time as they are consumed
        (never the whole object in memory or on a temporary disk). ``FileNotFoundError`` when
        there is no such object."""
        ...


def signed_url_ttl() -> int:
    """Seconds a private file's signed URL stays valid (``SERVEROPS["MEDIA_SIGNED_URL_TTL"]``)."""
    return int(serverops_setting("MEDIA_SIGNED_URL_TTL"))


# isinstance() against a runtime-checkable Protocol walks the protocol's members on every call
# (Python 3.11), and a page of 50 cases asks for every file: the answer is kept per storage class.
_SPEAKS_MEDIA: dict[type, bool] = {}


def media_storage(file: StoredFile) -> MediaStorage:
    return _media_storage_of(file.blob.storage)


def _media_storage_of(storage: Storage) -> MediaStorage:
    if storage is default_storage:
        # The storage the lazy default_storage stands for (the same instance, renewed when the
        # settings change): every attribute read through the lazy proxy costs two Python calls.
        storage = storages[DEFAULT_STORAGE_ALIAS]
    # __class__, not type(): through another storage's lazy wrapper, type() is the wrapper's class.
    kind = storage.__class__
    speaks = _SPEAKS_MEDIA.get(kind)
    if speaks is None:
        speaks = _SPEAKS_MEDIA[kind] = isinstance(storage, MediaStorage)
    if not speaks:
        raise ImproperlyConfigured(
            f"{type(storage).__name__} cannot link to files: STORAGES['default'] must be "
            "media.storage.FileSystemMediaStorage or media.storage.S3MediaStorage"
        )
    return cast(MediaStorage, storage)


def file_url(file: StoredFile, *, request: HttpRequest | None) -> str:
    """The absolute URL that opens ``file``'s bytes in a browser (the File's ``url``).

    Public: a stable URL. Private: a URL signed for ``MEDIA_SIGNED_URL_TTL`` seconds from now,
    so every response carries a fresh one. Blocked: the stable URL, which no longer opens
    anything (the ``/media/`` route answers 404, an object store refuses the unsigned read).
    Links on the service's own disk are absolute on ``MEDIA_BASE_URL`` when it is set, else on
    the scheme and host ``request`` came to, else (webhooks, commands) on ``SITE_URL``.
    A response with several files makes one ``FileLinks`` for all of them.
    """
    return FileLinks(request).url(file)


class FileLinks:
    """``file_url`` for the files of one response, with what their links share worked out once:
    the lifetime of signed links, the storage's base URL, expiry and signing key (its
    ``media_links``), and the scheme and host that relative links are made absolute on.

    A page of 50 cases lists up to 150 files. Per file, ``request.build_absolute_uri`` parsed
    and re-quoted a URL that ``media_url`` had already quoted, and the settings were read for
    each link: 10.8 µs per private file's URL, 3.8 µs this way (bench/PROFILE.md, section 9).
    """

    def __init__(self, request: HttpRequest | None) -> None:
        self.request = request
        self._links: dict[tuple[MediaStorage, int | None], Callable[[str], str]] = {}

    @cached_property
    def expires_in(self) -> int:
        return signed_url_ttl()

    @cached_property
    def _file_storage(self) -> MediaStorage:
        """The storage of ``File.blob``, for a record whose ``blob`` is the stored name."""
        from .models import File  # media.models is loaded after the storages this module defines

        storage: Storage = File._meta.get_field("blob").storage
        return _media_storage_of(storage)

    @cached_property
    def origin(self) -> str | None:
        """``scheme://host`` of the request (checked against ``ALLOWED_HOSTS`` once), when
        ``iri_to_uri`` leaves it as it is (it always does but for an odd ``ALLOWED_HOSTS``)."""
        assert self.request is not None
        origin = self.request.build_absolute_uri("/")[:-1]
        return origin if _URI.fullmatch(origin) else None

    def url(self, file: LinkedFile) -> str:
        blocked = file.abuse_status == "blocked"
        expires_in = None if blocked or file.visibility == "public" else self.expires_in
        blob = file.blob  # a FileField's descriptor does its work on every read
        if isinstance(blob, str):  # a record's stored name
            name, storage = blob, self._file_storage
        else:
            name, storage = blob.name or "", _media_storage_of(blob.storage)
        link = self._links.get((storage, expires_in))
        if link is None:
            link = self._links[storage, expires_in] = storage.media_links(expires_in=expires_in)
        url = link(name)
        if self.request is not None and _from_site_root(url) and self.origin is not None:
            # build_absolute_uri's short way, whose iri_to_uri changes nothing in a URI.
            return self.origin + url
        return absolute_url(url, request=self.request)


def staff_file_url(file: StoredFile, *, request: HttpRequest | None) -> str:
    """A signed URL for the admin, which opens ``file`` whatever its visibility or abuse status.

    Only ever put it in pages shown to staff: it opens blocked files too.
    """
    url = media_storage(file).media_url(file.blob.name or "", expires_in=signed_url_ttl(), staff=True)
    return absolute_url(url, request=request)


def file_apply_access(file: StoredFile) -> None:
    """Make the store serve ``file`` without a signature exactly when it is public and not blocked.

    Call it after storing a file and after changing its visibility or abuse status; the service's
    own ``/media/`` route reads both from the database, so on the file system it does nothing.
    """
    public = file.visibility == "public" and file.abuse_status != "blocked"
    media_storage(file).set_public(file.blob.name or "", public=public)


def absolute_url(url: str, *, request: HttpRequest | None) -> str:
    """``url`` as is when absolute; otherwise on the request's scheme and host, or on ``SITE_URL``."""
    if "://" in url.split("?", 1)[0]:
        return url
    if request is not None:
        return request.build_absolute_uri(url)
    site: str = serverops_setting("SITE_URL")
    return site.rstrip("/") + "/" + url.lstrip("/")


# The characters a URI keeps as they are: what iri_to_uri leaves alone (RFC 3986's unreserved and
# reserved characters, and "%" of an escape).
_URI_CHARACTERS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*"
_URI = re.compile(_URI_CHARACTERS)
_FROM_SITE_ROOT = re.compile("/(?!/)" + _URI_CHARACTERS)


def _from_site_root(url: str) -> bool:
    """Whether ``build_absolute_uri(url)`` is its short way with nothing for ``iri_to_uri`` to
    change, so the request's scheme and host then ``url``: a path from the site's root, every
    character one a URI keeps, no "." or ".." segment to resolve."""
    return _FROM_SITE_ROOT.fullmatch(url) is not None and "/./" not in url and "/../" not in url


def _now() -> int:
    return int(time.time())


@lru_cache(maxsize=4096)
def _uri_path(name: str) -> str:
    """``filepath_to_uri(name)``, remembered: quote() works character by character, and the
    same files are listed in response after response."""
    return filepath_to_uri(name)


@lru_cache(maxsize=16)
def _keyed_hmac(salt: str, secret: str) -> hmac.HMAC:
    """The HMAC ``salted_hmac(salt, …, algorithm="sha256")`` builds, keyed once instead of per
    call (the key is a SHA-256 of salt and secret); callers ``copy()`` it. Keyed by the secret
    too, so a changed ``SECRET_KEY`` signs with the new key."""
    return hmac.new(hashlib.sha256((salt + secret).encode()).digest(), digestmod=hashlib.sha256)


def _sign(signer: hmac.HMAC, name: str, expires: int) -> str:
    """The link's ``signature``: the keyed HMAC of the name and the expiry (``salted_hmac``'s)."""
    signature = signer.copy()
    signature.update(f"{name}\n{expires}".encode())
    return signature.hexdigest()


class FileSystemMediaStorage(FileSystemStorage):
    """Files under ``MEDIA_ROOT``, served by the service's ``/media/`` route (``media.serving``)."""

    served_by_service = True

    _SALT = "media.storage.FileSystemMediaStorage"

    def media_url(self, name: str, *, expires_in: int | None, staff: bool = False) -> str:
        return self.media_links(expires_in=expires_in, staff=staff)(name)

    def media_links(self, *, expires_in: int | None, staff: bool = False) -> Callable[[str], str]:
        base: str = serverops_setting("MEDIA_BASE_URL") or settings.MEDIA_URL
        prefix = base.rstrip("/") + "/"
        if not base.startswith(("/", "http://", "https://")):
            prefix = "/" + prefix
        if expires_in is None:
            return lambda name: prefix + _uri_path(name).lstrip("/")
        expires = _now() + expires_in
        signer = self._signer(staff=staff)
        # Digits and hex digits: nothing in the query needs escaping.
        staff_flag = "&staff=1" if staff else ""

        def link(name: str) -> str:
            signature = _sign(signer, name, expires)
            return f"{prefix}{_uri_path(name).lstrip('/')}?expires={expires}&signature={signature}{staff_flag}"

        return link

    def url(self, name: str | None) -> str:
        # What a FileField's ``.url`` gives (the admin's "Currently:" link): a signed link, which
        # opens the file unless it is blocked (``staff_file_url`` is the admin's link for those).
        return self.media_url(name or "", expires_in=signed_url_ttl())

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        with self.open(name, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    def set_public(self, name: str, *, public: bool) -> None:
        # The /media/ route reads visibility and abuse status from the database on every request.
        return None

    def check_signature(self, name: str, *, expires: str, signature: str, staff: bool) -> bool:
        """Whether ``expires``/``signature`` (from a link's query) are a valid, unexpired signature of ``name``."""
        when = whole_number(expires, max_digits=12)
        if when is None or when < _now():
            return False
        return constant_time_compare(signature, self._signature(name, when, staff=staff))

    def _signature(self, name: str, expires: int, *, staff: bool) -> str:
        return _sign(self._signer(staff=staff), name, expires)

    def _signer(self, *, staff: bool) -> hmac.HMAC:
        return _keyed_hmac(self._SALT + (".staff" if staff else ""), settings.SECRET_KEY)


class S3MediaStorage(S3Storage):  # type: ignore[misc]  # django-storages ships no type hints
    """Any S3-compatible object store (AWS S3, Cloudflare R2, MinIO…) through django-storages.

    Settings come from ``STORAGES["default"]["OPTIONS"]`` (``serverops/settings/base.py`` reads
    them from the ``S3_*`` environment variables). ``public_acl=False`` is for stores without
    object ACLs: ``set_public`` then does nothing, and public files need a bucket policy or
    custom domain that serves them.
    """

    served_by_service = False

    def get_default_settings(self) -> dict[str, Any]:
        defaults: dict[str, Any] = super().get_default_settings()
        return {**defaults, "public_acl": True}

    def media_url(self, name: str, *, expires_in: int | None, staff: bool = False) -> str:
        key = self._normalize_name(clean_name(name))
        if expires_in is None:
            if self.custom_domain:
                return f"{self.url_protocol}//{self.custom_domain}/{filepath_to_uri(key)}"
            client = self.unsigned_connection.meta.client
        else:
            # Signed against the store itself even with a custom domain, which cannot check the signature.
            client = self.connection.meta.client
        url: str = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket_name, "Key": key},
            ExpiresIn=expires_in or 0,
        )
        return url

    def media_links(self, *, expires_in: int | None, staff: bool = False) -> Callable[[str], str]:
        # boto3 signs each URL itself.
        return lambda name: self.media_url(name, expires_in=expires_in, staff=staff)

    def chunks(self, name: str, size: int) -> Iterator[bytes]:
        # S3File would download the whole object to a temporary file before the first read.
        key = self._normalize_name(clean_name(name))
        try:
            body = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise FileNotFoundError(name) from None
            raise
        try:
            yield from body.iter_chunks(size)
        finally:
            body.close()

    def set_public(self, name: str, *, public: bool) -> None:
        if not self.public_acl:
            return
        key = self._normalize_name(clean_name(name))
        self.connection.meta.client.put_object_acl(
            Bucket=self.bucket_name, Key=key, ACL="public-read" if public else "private"
        )

    def check_signature(self, name: str, *, expires: str, signature: str, staff: bool) -> bool:
        # The store checks its own signatures; the service never serves these bytes.
        return False

    def _get_write_parameters(self, name: str, content: Any = None) -> dict[str, Any]:
        params: dict[str, Any] = super()._get_write_parameters(name, content)
        # The type was read from the bytes (content.content_type); never guess it from the
        # client's file name, which is how an "x.html" holding HTML would be served as a page.
        content_type = getattr(content, "content_type", None) or "application/octet-stream"
        params["ContentType"] = content_type
        params.pop("ContentEncoding", None)
        if not is_inline_type(content_type):
            params["ContentDisposition"] = content_disposition_header(
                as_attachment=True, filename=name.rsplit("/", 1)[-1]
            )
        params["ACL"] = "private"
        if not self.public_acl:
            params.pop("ACL")
        return params
