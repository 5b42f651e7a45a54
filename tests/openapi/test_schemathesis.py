"""Schemathesis holds the service to its OpenAPI document (issue 4).

Its engine (what ``schemathesis run`` drives) runs in-process against pytest-django's live
server on this test's database: every built-in check on, positive and negative data, every phase
(examples, coverage, fuzzing, and stateful sequences when it infers links), a valid token,
and seeded cases whose ids the generator draws for ``{id}`` half the time, so retrieve and
update reach real cases as well as missing ones.

Why a live server rather than the WSGI application in-process: schemathesis's pytest plugin
does not support pytest 9 yet (it sets ``Node._nodeid``), and its engine's WSGI transport
passes ``max_redirects`` on to werkzeug when a check re-sends a request.

The run is split by the document's tags (cases, media, players, …), one test each (the cases tag
in three: ``SHARDS``), so pytest-xdist spreads them over the cores; an operation's links to the
others of its shard (create, then read and update) stay within one run. Every operation carries
exactly one tag.

Reproduce a run with the seed it prints:
``SCHEMATHESIS_SEED=<seed> .venv/bin/pytest tests/openapi -k <shard>``.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.test import override_settings
from hypothesis import strategies as st
from pytest_django.live_server_helper import LiveServer
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES
from schemathesis.engine import Status, events

from cases.models import Case
from cases.services import Actor, case_update
from media.models import File
from serverops.ids import ULID_PATTERN
from serverops.pagination import encode_cursor
from tests.factories import CaseFactory, FileFactory, MemberFactory, ProjectFactory, TokenFactory, attach_file
from tests.openapi import load_yaml
from tokens.models import Mode, Project, Role, ScopedToken
from webhooks.views import encode_cursor as encode_feed_cursor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.schemathesis]

MIN_REQUESTS_PER_OPERATION = 70
# Examples per operation and phase: 150 by hand; .ci/run sets fewer (SCHEMATHESIS_MAX_EXAMPLES) to keep
# the whole run within its time, and each run draws a new seed, so runs over time still go wide.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES") or 150)
DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.yaml"


def _operations_by_tag() -> dict[str, list[str]]:
    """The operation ids the committed document files under each tag (a test elsewhere holds the
    served document to the committed copy)."""
    paths = load_yaml(DOCUMENT.read_text())["paths"]
    operations = [op for item in paths.values() for op in item.values() if isinstance(op, dict) and "tags" in op]
    assert all(len(op["tags"]) == 1 for op in operations), "an operation with several tags would run twice"
    by_tag: dict[str, list[str]] = {}
    for op in operations:
        by_tag.setdefault(op["tags"][0], []).append(op["operationId"])
    return by_tag


OPERATIONS_BY_TAG = _operations_by_tag()
# The cases tag holds most operations and took as long as every other tag together: it runs as
# three tests, so pytest-xdist can spread them over the cores: a case's record (the links from
# create to read and update stay together), the list with its filters, and the rest (history,
# notes, exports). Each shard: its tag, and the operations of the tag it runs.
CASE_RECORD = {"createCase", "getCase", "updateCase"}
CASE_LIST = {"listCases"}
SHARDS = {
    **{tag: (tag, set(operations)) for tag, operations in OPERATIONS_BY_TAG.items() if tag != "cases"},
    "cases": ("cases", CASE_RECORD),
    "cases-list": ("cases", CASE_LIST),
    "cases-history": ("cases", set(OPERATIONS_BY_TAG["cases"]) - CASE_RECORD - CASE_LIST),
}


def _cursors(id_prefix: str, salt: str) -> st.SearchStrategy[str]:
    """Cursors the service could have issued: any position, any id of the kind it pages."""
    return st.builds(
        lambda created_at, pk: encode_cursor(created_at, pk, salt=salt),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
        st.from_regex(f"{id_prefix}_{ULID_PATTERN}", fullmatch=True),
    )


# A cursor is opaque to clients, not to the generator: a schema-valid cursor is one the service
# issued, which is what a paging client sends (the document names each kind by its format).
schemathesis.openapi.format("case-cursor", _cursors("c", "cases"))
schemathesis.openapi.format("case-event-cursor", _cursors("ev", "events"))
schemathesis.openapi.format(
    "event-cursor", st.integers(min_value=1, max_value=2**62).map(lambda seq: encode_feed_cursor((0, seq)))
)
schemathesis.openapi.format("case-note-cursor", _cursors("nt", "notes"))
schemathesis.openapi.format("file-cursor", _cursors("f", "files"))
schemathesis.openapi.format("player-cursor", _cursors("pl", "players"))

# Identifiers of every type in their accepted spellings, each drawn once: two drawn for different
# subjects of one case are never one account (which is rightly a 400), however hypothesis shrinks.
_DRAWN = itertools.count(1)
_SPELLINGS: dict[str, Callable[[int], str]] = {
    "steam": lambda n: f"steam:{76561197960265728 + n}",
    "steam-hex": lambda n: f"STEAM:{76561197960265728 + n:x}",
    "license": lambda n: f"license:{n:040x}",
    "license2": lambda n: f"LICENSE2:{n:040X}",
    "roblox": lambda n: f"roblox:{n}",
    "fivem": lambda n: f"fivem:{n}",
    "discord": lambda n: f"discord:{10**16 + n}",
    "minecraft": lambda n: f"minecraft:{uuid.UUID(int=n)}",
    "minecraft-undashed": lambda n: f"minecraft:{uuid.UUID(int=n).hex.upper()}",
    "epic": lambda n: f"epic:{n:032x}",
}
STRONG_IDENTIFIERS = st.sampled_from(sorted(_SPELLINGS)).map(lambda kind: _SPELLINGS[kind](next(_DRAWN)))
schemathesis.openapi.format("strong-identifier", STRONG_IDENTIFIERS)
schemathesis.openapi.format(
    "identifier",
    st.one_of(
        STRONG_IDENTIFIERS,
        st.ip_addresses().map(lambda address: f"ip:{address}"),
        st.from_regex(r"hwid:[A-Za-z0-9:_-]{1,100}", fullmatch=True),
    ),
)
# A schema-valid player id names a player the token can see: a new one each time, so two drawn
# for one case are never the same player. The token's project is set by the test before the run.
PLAYER_PROJECT: list[str] = []


def _new_player(_: int) -> str:
    from players.models import Player

    return Player.objects.create(project_id=PLAYER_PROJECT[0], mode=Mode.LIVE).pk


schemathesis.openapi.format("player-id", st.builds(_new_player, st.integers()))
# A schema-valid evidence list names files the token can see: files seeded for it, kept out of the
# path-id dictionary. The stateful phase can still delete one (it finds them through GET /v1/media),
# and a list naming a deleted file is rightly a 400, so only files still stored are drawn. Filled
# by the test before the run draws from it; there are enough that some always survive a run.
ATTACHABLE: list[str] = []


def _attachable() -> st.SearchStrategy[str]:
    return st.sampled_from(ATTACHABLE).filter(lambda pk: File.objects.filter(pk=pk).exists())


schemathesis.openapi.format("file-id", st.deferred(_attachable))
# A schema-valid assignee is a moderator (or above) of the token's organisation: members seeded
# for it by the test before the run draws from them.
ASSIGNABLE: list[str] = []
schemathesis.openapi.format("member-id", st.deferred(lambda: st.sampled_from(ASSIGNABLE)))


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """A case's labels are unique compared case-insensitively (docs/api.md#working-a-case), which
    JSON Schema's ``uniqueItems`` cannot say: schema-valid labels may be ``["æ", "Æ"]``, rightly a
    400. In a positive case, a label that repeats an earlier one so is dropped (the list stays
    schema-valid: fewer items, still unique); negative cases are sent as drawn."""
    body = case.body
    meta = case.meta
    if meta is None or meta.generation.mode is not schemathesis.GenerationMode.POSITIVE:
        return case
    if isinstance(body, dict) and isinstance(body.get("labels"), list):
        seen: set[str] = set()
        labels = []
        for label in body["labels"]:
            if isinstance(label, str):
                if label.casefold() in seen:
                    continue
                seen.add(label.casefold())
            labels.append(label)
        body["labels"] = labels
    return case


# What an upload's bytes must be (a type read from them, a base name, well-formed base64) is more
# than JSON Schema can say: a schema-valid upload may still be refused, with 400, 413 or 415, and
# nothing else. Every other check holds for these operations as for the rest.
UPLOADS_MAY_REFUSE = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "400", "413", "415"]
# Rules between parameters that JSON Schema cannot say, so schema-valid data may still be a 400:
# the feed's ``after`` must name an event the project still keeps, and not come with ``cursor``,
# and ``types`` is a comma-separated list of known names (docs/api.md#event-feed); a new token may
# not outlive its caller; a player lookup by identifier takes no ``limit`` or ``cursor``.
MAY_BE_A_400 = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "400"]


@pytest.fixture
def token(project: Project) -> ScopedToken:
    """A live token that may read and write cases and files, and manage members and tokens (so
    their operations are exercised beyond their 403)."""
    scopes = ["cases:read", "cases:write", "media:read", "media:write", "members:read", "members:write", "tokens:write"]
    return TokenFactory(project=project, scopes=scopes)


def _seed_cases(project: Project) -> list[Case]:
    """Cases of the token's project in every status, two with attachments, and one of
    another project (which must answer 404 exactly like an id that does not exist)."""
    cases = [CaseFactory(project=project, status=status) for status in ("open", "closed", "archived") * 4]
    for case in cases[:2]:
        attach_file(case=case, original_name="shot.png")
        attach_file(case=case, content=io.BytesIO(b"server log line\n"), original_name="server.log")
    return [*cases, CaseFactory(project=ProjectFactory())]


def _seed_files(project: Project, cases: list[Case]) -> list[str]:
    """Files of the token's project, one listed by a case (a delete is a 409), one of the other
    mode and one of another project (both 404, exactly like an id that does not exist)."""
    files = [FileFactory(project=project, tags=["evidence"], folder="reports") for _ in range(4)]
    case_update(
        case_id=cases[0].pk,
        changes={"attachments": [files[0].pk]},
        actor=Actor.system("tests"),
    )
    others = [FileFactory(project=project, mode=Mode.TEST), FileFactory(project=ProjectFactory())]
    ATTACHABLE[:] = [FileFactory(project=project).pk for _ in range(12)]
    ASSIGNABLE[:] = [
        MemberFactory(organisation=project.organisation, role=role).pk
        for role in (Role.MODERATOR, Role.ADMIN, Role.OWNER)
    ]
    return [file.pk for file in [*files, *others]]


def _config(
    shard: str, token: ScopedToken, case_ids: list[str], file_ids: list[str], seed: int, base_url: str
) -> SchemathesisConfig:
    tag, operations = SHARDS[shard]
    # The tag's operations that another shard runs.
    elsewhere = [
        {"include-operation-id": operation, "enabled": False}
        for operation in sorted(set(OPERATIONS_BY_TAG[tag]) - operations)
    ]
    return SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "base-url": base_url,
            # Runs depend on the seed alone, not on examples saved by earlier runs.
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "workers": 1,
            "auth": {"openapi": {"bearerAuth": {"bearer": token.plaintext}}},  # type: ignore[attr-defined]
            "dictionaries": {"case_ids": {"values": case_ids}, "file_ids": {"values": file_ids}},
            "parameters": {"path.id": {"dictionary": "case_ids", "probability": 0.5}},
            "operations": [
                # This run covers one tag's operations (the engine reads its filters from here).
                {"exclude-tag": tag, "enabled": False},
                *elsewhere,
                {"include-tag": "media", "parameters": {"path.id": {"dictionary": "file_ids", "probability": 0.5}}},
                {
                    "include-operation-id": "uploadFile",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": UPLOADS_MAY_REFUSE},
                        # Every form field is text: a "number" sent as a tag is the tag "1e+153".
                        "negative_data_rejection": {"enabled": False},
                    },
                },
                {
                    # A new token may not outlive the caller (docs/api.md#tokens-api): an expiry
                    # JSON Schema accepts may still be a 400.
                    "include-operation-id": "createToken",
                    "checks": {"positive_data_acceptance": {"expected-statuses": MAY_BE_A_400}},
                },
                {
                    # A lookup by identifier is not paged: limit or cursor beside it is a 400 (docs/api.md).
                    "include-operation-id": "listPlayers",
                    "checks": {"positive_data_acceptance": {"expected-statuses": MAY_BE_A_400}},
                },
                {
                    "include-operation-id": "listEvents",
                    "checks": {"positive_data_acceptance": {"expected-statuses": MAY_BE_A_400}},
                },
                {
                    "include-operation-id": "uploadFileBase64",
                    "checks": {"positive_data_acceptance": {"expected-statuses": UPLOADS_MAY_REFUSE}},
                },
            ],
            "checks": {
                "enabled": True,
                # A well-formed If-Match naming no current ETag is refused with 412
                # (docs/api.md#etags-if-match-and-if-none-match): a valid
                # request whose precondition failed, like the 404 and 409 the check allows already.
                "positive_data_acceptance": {
                    "expected-statuses": [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "412"],
                },
            },
        }
    )


def _failure_report(event: events.ScenarioFinished) -> list[str]:
    return [
        f"{event.label}: {node.failure_info.failure.title}\n{node.failure_info.failure.message}\n"
        f"{node.failure_info.code_sample}"
        for nodes in event.recorder.checks.values()
        for node in nodes
        if node.status == Status.FAILURE and node.failure_info is not None
    ]


@pytest.mark.parametrize("shard", sorted(SHARDS))
def test_service_keeps_its_openapi_document(
    shard: str,
    live_server: LiveServer,
    token: ScopedToken,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A line per request would bury the failure report.
    caplog.set_level(logging.WARNING, logger="serverops.request")
    cases = _seed_cases(token.project)
    PLAYER_PROJECT[:] = [token.project.pk]
    case_ids = [case.pk for case in cases]
    file_ids = _seed_files(token.project, cases)
    seed = int(os.environ.get("SCHEMATHESIS_SEED") or SchemathesisConfig().seed)
    # One client sends far more than the per-token budgets allow; limits are read per request.
    unlimited = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10**9, "RATE_LIMIT_PER_MINUTE": 10**9}
    requests: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    exercised: set[str] = set()  # the operations requests went to ("GET /v1/cases", …)
    failures: list[str] = []
    with override_settings(SERVEROPS=unlimited):
        schema = schemathesis.openapi.from_url(
            f"{live_server.url}/v1/openapi.json",
            config=_config(shard, token, case_ids, file_ids, seed, live_server.url),
        )
        for event in schemathesis.engine.from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                requests[event.phase.value] += len(event.recorder.interactions)
                for node in event.recorder.cases.values():
                    exercised.add(node.value.operation.label)
                    if node.value.meta is not None:
                        modes[node.value.meta.generation.mode.value] += 1
                failures += _failure_report(event)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.append(f"{event.label if isinstance(event, events.NonFatalError) else 'run'}: {event.info}")
            elif isinstance(event, events.EngineFinished):
                failures += [f"{f.operation}: {f.title}\n{f.message}" for f in event.failures]
    total = requests.total()
    by_phase = ", ".join(f"{key} {count}" for key, count in sorted((requests + modes).items()))
    with capsys.disabled():
        print(f"\nschemathesis [{shard}]: {total} requests, {len(failures)} failures, seed {seed} ({by_phase})")
    assert not failures, f"seed {seed} (SCHEMATHESIS_SEED reproduces the run)\n\n" + "\n\n".join(failures)
    assert len(exercised) == len(SHARDS[shard][1]), f"the shard ran {sorted(exercised)}"
    minimum = MIN_REQUESTS_PER_OPERATION * len(SHARDS[shard][1])
    assert total >= minimum, f"only {total} requests: {by_phase}"


def test_positive_cases_never_repeat_a_label_case_insensitively() -> None:
    """``map_case``: ``["æ", "Æ", "ß", "SS", 7]`` is sent as ``["æ", "ß", 7]`` in a positive case,
    as drawn in a negative one."""
    from types import SimpleNamespace

    from schemathesis import GenerationMode

    def drawn(mode: GenerationMode) -> Any:
        meta = SimpleNamespace(generation=SimpleNamespace(mode=mode))
        return SimpleNamespace(body={"title": "t", "labels": ["æ", "Æ", "ß", "SS", 7]}, meta=meta)

    assert map_case(None, drawn(GenerationMode.POSITIVE)).body["labels"] == ["æ", "ß", 7]  # type: ignore[arg-type]
    assert map_case(None, drawn(GenerationMode.NEGATIVE)).body["labels"] == ["æ", "Æ", "ß", "SS", 7]  # type: ignore[arg-type]
