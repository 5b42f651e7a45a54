import base64
import binascii
import hashlib
import json
import zipfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management.base import BaseCommand, CommandError

from cases import chain
from cases.export import CHUNK, MANIFEST, SIGNATURE, ExportKeyMissing, signing_key

# What a manifest or its signature may weigh: far above any real one, far below a bomb.
MAX_MANIFEST = 16 * 1024 * 1024
MAX_SIGNATURE = 1024
# events.json and case.json are parsed in memory; their size is also signed.
MAX_JSON = 512 * 1024 * 1024


class Command(BaseCommand):
    help = (
        "Check a case export offline: the manifest's Ed25519 signature, every member's SHA-256 and size, "
        "the history's hash chain and its head. Prints 'verified …' or names what fails and exits 1. "
        "Nothing is extracted: members are read from the archive as streams."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("bundle", help="the .zip that GET /v1/cases/{id}/export sent")
        parser.add_argument("--key", help="the PEM public key to check with (default: this installation's)")

    def handle(self, *args: Any, bundle: str, key: str | None, **options: Any) -> None:
        public = self._public_key(key)
        try:
            archive = zipfile.ZipFile(bundle)
        except (OSError, zipfile.BadZipFile) as exc:
            raise CommandError(f"{bundle}: not a readable ZIP file ({exc})") from None
        with archive:
            summary = _verify(archive, public)
        self.stderr.write(f"{bundle}: signature, files and history all verify.")
        self.stdout.write(f"verified {summary}")

    def _public_key(self, path: str | None) -> Ed25519PublicKey:
        if path is None:
            try:
                return signing_key().public_key()
            except ExportKeyMissing as exc:
                raise CommandError(f"{exc}; or give the bundle's public key with --key") from None
        try:
            loaded = load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise CommandError(f"--key {path}: not a readable PEM public key ({exc})") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise CommandError(f"--key {path}: not an Ed25519 public key")
        return loaded


def _safe(name: str) -> bool:
    parts = name.split("/")
    return not (name.startswith("/") or "\\" in name or ":" in parts[0] or any(p in {"", ".", ".."} for p in parts))


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, refused past ``limit`` whatever its header claims (a bomb stops there)."""
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise CommandError(f"{name}: larger than {limit} bytes")
    return data


def _digest(archive: zipfile.ZipFile, name: str, size: int) -> str:
    """The SHA-256 of a member read in chunks, refused as soon as it outgrows ``size``."""
    digest, read = hashlib.sha256(), 0
    with archive.open(name) as member:
        while chunk := member.read(CHUNK):
            read += len(chunk)
            if read > size:
                raise CommandError(f"{name}: more bytes than the manifest's {size}")
            digest.update(chunk)
    if read != size:
        raise CommandError(f"{name}: {read} bytes, the manifest says {size}")
    return digest.hexdigest()


def _verify(archive: zipfile.ZipFile, public: Ed25519PublicKey) -> str:
    names = archive.namelist()
    unsafe = next((name for name in names if not _safe(name)), None)
    if unsafe is not None:
        raise CommandError(f"unsafe member name {unsafe[:200]!r}")
    if len(set(names)) != len(names):
        raise CommandError("a member name appears twice")
    for required in (MANIFEST, SIGNATURE):
        if required not in names:
            raise CommandError(f"no {required} in the bundle")
    manifest_bytes = _read(archive, MANIFEST, MAX_MANIFEST)
    try:
        signature = base64.b64decode(_read(archive, SIGNATURE, MAX_SIGNATURE).strip(), validate=True)
        public.verify(signature, manifest_bytes)
    except (binascii.Error, InvalidSignature):
        raise CommandError(f"{SIGNATURE}: not a valid signature of {MANIFEST} by this key") from None
    try:
        manifest = json.loads(manifest_bytes)
        listed = {entry["path"]: entry for entry in manifest["files"]}
        case_id, head = manifest["case"], manifest["events_head"]
    except (ValueError, KeyError, TypeError):
        raise CommandError(f"{MANIFEST}: not a manifest") from None
    members = set(names) - {MANIFEST, SIGNATURE}
    if set(listed) != members:
        odd = sorted(set(listed) ^ members)[:3]
        raise CommandError(f"the members and the manifest disagree: {odd}")
    for path, entry in listed.items():
        if _digest(archive, path, int(entry["size"])) != entry["sha256"]:
            raise CommandError(f"{path}: SHA-256 differs from the manifest")
    case = json.loads(_read(archive, "case.json", MAX_JSON))
    if case.get("id") != case_id:
        raise CommandError("case.json is not the manifest's case")
    events = json.loads(_read(archive, "events.json", MAX_JSON))
    previous = chain.GENESIS
    for number, event in enumerate(events, start=1):
        hashed = {key: value for key, value in event.items() if key != "hash"} | {"case": case_id}
        if event.get("prev_hash") != previous or chain.hash_of(hashed) != event.get("hash"):
            raise CommandError(f"events.json: chain broken at event {event.get('id')} (#{number})")
        previous = event["hash"]
    if previous != head:
        raise CommandError("events.json: the last event is not the manifest's events_head")
    return f"case {case_id}: {len(listed) - 3} files, {len(events)} events"
