"""Benchmark data: a fresh organisation, project and token, and cases with attachments."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from django.db import connection, transaction

from cases.models import ActorType, Attachment, Case, Status
from media.models import File
from tokens.models import Mode, Organisation, Project, ScopedToken
from tokens.services import token_create
from webhooks.models import Event, WebhookEndpoint

ORGANISATION = "ServerOps benchmark"


@dataclass(frozen=True)
class Seeded:
    token_id: str
    plaintext: str
    case_ids: list[str]


def vacuum_analyze() -> None:
    """Clear out the rows an earlier seed deleted and refresh the planner's statistics, as
    autovacuum would within a minute of a bulk load.

    Without the statistics, the first runs after seeding plan on the empty tables' estimates:
    PostgreSQL then read a page's evidence by scanning both tables whole (4 ms instead of
    0.4 ms). Without the vacuum, on a server with autovacuum off (this project's CI machine),
    every run re-seeds over the last one's dead rows and reads slower than the one before.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _drop(name: str) -> None:
    """Remove what an earlier run of the same name left, so every run starts alike (the events
    its PATCHes wrote included: they keep the project from being deleted)."""
    projects = Project.objects.filter(organisation__name=ORGANISATION, name=name)
    Event.objects.filter(project__in=projects).delete()
    WebhookEndpoint.objects.filter(project__in=projects).delete()
    Case.objects.filter(project__in=projects).delete()
    File.objects.filter(project__in=projects).delete()
    ScopedToken.objects.filter(project__in=projects).delete()
    projects.delete()


def seed(*, cases: int, name: str = "bench", seed: int = 6, files_per_case: int | None = None) -> Seeded:
    """Seed (see ``_seed``), then refresh the statistics the plans depend on."""
    seeded = _seed(cases=cases, name=name, seed=seed, files_per_case=files_per_case)
    vacuum_analyze()
    return seeded


@transaction.atomic
def _seed(*, cases: int, name: str, seed: int, files_per_case: int | None) -> Seeded:
    """``cases`` live cases in a new project, each with 0–3 files (or exactly ``files_per_case``), and a
    live read/write token."""
    rng = random.Random(seed)  # noqa: S311 (repeatable test data, not secrets)
    _drop(name)
    organisation, _ = Organisation.objects.get_or_create(name=ORGANISATION)
    project = Project.objects.create(organisation=organisation, name=name)
    token, plaintext = token_create(
        project=project, name="benchmark", scopes=["cases:read", "cases:write"], mode=Mode.LIVE
    )
    rows = Case.objects.bulk_create(
        Case(
            project=project,
            mode=Mode.LIVE,
            title=f"Player report #{n}: speed hack near the docks",
            description="Reported from the in-game /report command.\nClip attached.",
            status=rng.choice(Status.values),
        )
        for n in range(cases)
    )
    files = []
    links = []
    for case in rows:
        for n in range(rng.randint(0, 3) if files_per_case is None else files_per_case):
            attachment = File(
                project=project,
                mode=Mode.LIVE,
                size=rng.randint(1_000, 5_000_000),
                content_type="image/png",
                sha256=hashlib.sha256(f"{case.id}{n}".encode()).hexdigest(),
                original_name=f"screenshot {n}.png",
                tags=["evidence", "screenshot"],
                folder="reports",
            )
            attachment.key = f"{project.id}/{attachment.id}/{attachment.original_name}"
            attachment.blob.name = attachment.key
            files.append(attachment)
            links.append(
                Attachment(
                    case=case,
                    file=attachment,
                    position=n,
                    attached_by_type=ActorType.SYSTEM,
                    attached_by_id="bench",
                    attached_by_name="bench",
                )
            )
    File.objects.bulk_create(files)
    Attachment.objects.bulk_create(links)
    return Seeded(token_id=token.pk, plaintext=plaintext, case_ids=[case.id for case in rows])
