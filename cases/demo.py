"""Demo data that looks like a real community's moderation queue. ``seed_demo`` calls ``demo_seed``."""

from __future__ import annotations

import io
import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from media.models import File, Visibility
from media.services import file_create
from tokens.models import Member, Mode, Organisation, Project, Role, ScopedToken
from tokens.services import token_create, token_revoke

from . import chain
from .models import Attachment, Case, CaseEvent, Priority, Status
from .services import Actor, attachment_create, case_create

ORGANISATION = "Demo Community"
PROJECTS = ("Demo Roleplay Server", "Demo Survival Server")

TITLES = [
    ("Aimbot suspected on player Vex_TTV", "Snapped onto three heads through smoke at B site.\nClip attached."),
    ("Speed hack reported near the docks", "Player crossed the map in 12 seconds on foot."),
    ("ESP / wallhack: tracked players through walls", "Pre-fired every corner for two rounds."),
    ("Money exploit with the ATM duplication glitch", "Balance went from $2k to $4.1M within a minute."),
    ("Harassment in global chat", "Repeated slurs aimed at a new player after they asked for help."),
    ("Targeted harassment in voice chat", "Followed another player across three servers shouting at them."),
    ("Ban appeal: 'I was lagging, not teleporting'", "Appeal for ban #4411. Says their router was failing."),
    ("Ban appeal from DarkKnight77", "Banned for cheating last month, says an old friend used the account."),
    ("Bug abuse: vehicle clipping into the bank vault", "Parked a truck against the wall and walked through."),
    ("Bug abuse: infinite ammo through inventory swap", "Swapping weapons mid-reload keeps the magazine full."),
    ("Griefing: burned down the spawn town", "Lava buckets placed around the church at 02:10 server time."),
    ("Scam report: fake car sale", "Took $300k for a car they never handed over."),
    ("Impersonating a staff member", "Told players in chat they were a moderator and asked for passwords."),
    ("Advertising another server in chat", "Posted an invite link eleven times in ten minutes."),
    ("Cheating: triggerbot in the arena", "Reaction times under 40 ms on every kill."),
    ("Combat logging during a raid", "Disconnected every time they were about to lose a fight."),
    ("RDM: random deathmatch at the hospital", "Shot four players waiting at the hospital without any roleplay."),
    ("Ban appeal: shared PC with my brother", "Says the ban was for something their brother did."),
    (
        "Bug abuse: duplicating rare items with the trade window",
        "Closing the window during the trade keeps both copies.",
    ),
    ("Toxic behaviour after losing a match", "Spammed insults and threats in team chat."),
    ("Macro use for auto-farming", "Character kept farming for nine hours straight without pausing."),
    ("Exploiting a map hole under the prison", "Fell under the map and shot players from below."),
    ("Ban appeal: VPN flagged as ban evasion", "Uses a VPN for work; never had a ban before."),
    ("Offensive name and profile picture", "Profile name is a slur; picture is an extremist symbol."),
    ("Cheat client detected by the anti-cheat", "Anti-cheat flagged a known injector signature."),
    ("Stream sniping a content creator", "Joined every lobby the streamer joined and called out positions."),
    ("Harassment by direct message", "Sent dozens of abusive messages after a trade went wrong."),
    ("Server crash triggered with a malformed packet", "Server crashed three times right after this player joined."),
    ("Ban appeal: account was stolen", "Email changed the day before the cheating reports started."),
    ("Exploit: skipping the jail timer by relogging", "Logs out in jail and comes back free."),
    ("Spawn camping new players", "Killed fresh spawns repeatedly for half an hour."),
    ("Duplicate report of the ATM glitch", "Same glitch as the earlier report, different player."),
    ("Fly hack seen at the airport", "Hovered above the control tower for a minute."),
    ("Ban appeal: apologises for chat spam", "Promises to read the rules; first offence."),
    ("Theft of a faction vehicle using an exploit", "Spawned a locked faction vehicle by abusing the garage menu."),
    ("Doxxing threat in Discord", "Threatened to post another member's home address."),
]
STATUSES = [Status.OPEN] * 5 + [Status.CLOSED] * 3 + [Status.ARCHIVED] * 2
# The queue's mix (docs/operations.md, "The queue"): mostly normal, a few urgent ones on top.
PRIORITIES = [Priority.NORMAL] * 4 + [Priority.HIGH] * 2 + [Priority.URGENT, Priority.LOW]
LABELS = [[], ["cheating"], [], ["chat"], ["cheating", "evidence review"], [], ["exploit"]]
SEEDER = Actor.system("seed_demo")
SEEDED_BY = "manage.py seed_demo"
# Long enough for an afternoon of trying the API, short enough that a forgotten one dies on its own.
DEMO_TOKEN_LIFETIME = timedelta(days=7)
COLOURS = [(220, 53, 69), (13, 110, 253), (25, 135, 84), (255, 193, 7), (111, 66, 193), (32, 201, 151)]


# The admin login `make run` prints: a superuser of the local demo whose password changes on every
# run (shown once), so no password is ever fixed in the code or the docs.
DEMO_STAFF_USERNAME = "demo-staff"
# Members of the demo community, made the same way: its owner, and a moderator who sees only it.
DEMO_MEMBERS = (("demo-owner", Role.OWNER), ("demo-moderator", Role.MODERATOR))


@dataclass(frozen=True)
class DemoResult:
    project: Project
    token: ScopedToken
    plaintext: str
    cases_created: int


def screenshot_png(seed: int, width: int = 160, height: int = 90) -> bytes:
    """A small real PNG that looks like a marked-up screenshot: a sky, ground and a circled spot."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), rng.choice(COLOURS))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(60, 60, 60))
    x, y = rng.randrange(20, width - 20), rng.randrange(15, height - 15)
    draw.ellipse((x - 12, y - 12, x + 12, y + 12), outline=(255, 255, 255), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def server_log(seed: int) -> bytes:
    """A few lines of a game server's anti-cheat log."""
    rng = random.Random(seed)
    lines = [
        f"2026-11-{rng.randrange(1, 28):02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:{n:02d} "
        f"[anticheat] player#{rng.randrange(1000, 9999)} {rng.choice(['aim snap', 'speed', 'teleport', 'noclip'])} "
        f"score={rng.randrange(60, 100)}"
        for n in range(12)
    ]
    return ("\n".join(lines) + "\n").encode()


def anticheat_report(seed: int) -> bytes:
    rng = random.Random(seed)
    report = {
        "detector": "serverops-anticheat",
        "player": f"player#{rng.randrange(1000, 9999)}",
        "flags": [{"kind": rng.choice(["aim", "speed", "esp"]), "score": rng.randrange(60, 100)} for _ in range(3)],
    }
    return json.dumps(report, indent=2).encode()


def _library_file(
    project: Project,
    mode: str,
    name: str,
    content: bytes,
    *,
    folder: str = "",
    tags: tuple[str, ...] = (),
    visibility: str = Visibility.PRIVATE,
) -> File:
    """A file stored as the API stores an upload; cases list it by id (``case_create(attachments=…)``)."""
    return file_create(
        project=project,
        mode=mode,
        content=io.BytesIO(content),
        original_name=name,
        folder=folder,
        tags=tags,
        visibility=visibility,
    )


def _seed_library(project: Project, offset: int) -> None:
    """Files no case lists yet, as a server's uploads wait for a moderator."""
    for n in range(3):
        _library_file(project, Mode.LIVE, f"inbox-{n + 1}.png", screenshot_png(offset * 100 + 900 + n), folder="inbox")
    _library_file(project, Mode.LIVE, "banner.png", screenshot_png(offset + 7), visibility=Visibility.PUBLIC)


def _seed_cases(project: Project, offset: int) -> int:
    rng = random.Random(offset)
    now = timezone.now()
    created = 0
    # Evidence more than one report points at: the ATM glitch and its duplicate share a clip.
    shared: dict[str, File] = {}
    # Each project starts the list elsewhere, so the two queues interleave different reports.
    start = offset * 13 % len(TITLES)
    for index, (title, description) in enumerate(TITLES[start:] + TITLES[:start]):
        mode = Mode.TEST if index % 6 == 5 else Mode.LIVE
        status = STATUSES[(index + offset) % len(STATUSES)]
        evidence: list[File] = []
        if index % 4 == 1:
            evidence.append(
                _library_file(
                    project, mode, f"server-{index + 1}.log", server_log(offset * 1000 + index), folder="logs"
                )
            )
        if index % 8 == 3:
            evidence.append(
                _library_file(project, mode, f"anticheat-{index + 1}.json", anticheat_report(index), folder="reports")
            )
        if "ATM" in title and mode == Mode.LIVE:
            if "atm" not in shared:
                shared["atm"] = _library_file(
                    project, mode, "atm-glitch.png", screenshot_png(offset * 1000 + 999), tags=("atm", "exploit")
                )
            evidence.append(shared["atm"])
        case = case_create(
            project=project,
            mode=mode,
            title=title,
            description=description,
            status=status,
            attachments=[file.pk for file in evidence],
            priority=PRIORITIES[(index * 3 + offset) % len(PRIORITIES)],
            labels=LABELS[index % len(LABELS)],
            actor=SEEDER,
        )
        if index % 3 == 0:
            for n in range(1 + index % 2):
                attachment_create(
                    case=case,
                    content=io.BytesIO(screenshot_png(offset * 1000 + index * 10 + n)),
                    original_name=f"screenshot-{index + 1}-{n + 1}.png",
                    tags=["screenshot", "evidence"],
                    folder="reports",
                    actor=SEEDER,
                )
        # Spread the queue over the last weeks, as a real one would be.
        created_at = now - timedelta(days=len(TITLES) - index, hours=rng.randrange(24))
        updated_at = created_at + timedelta(hours=rng.randrange(1, 48))
        _backdate(case, created_at=created_at, updated_at=min(updated_at, now))
        created += 1
    return created


def _backdate(case: Case, *, created_at: datetime, updated_at: datetime) -> None:
    """Move a just-seeded case into the past with its history: the first event at ``created_at``,
    each later one (an upload attached) spread up to ``updated_at``, every attachment at the
    event that attached it, and every file stored a minute before it was first attached."""
    events = list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))
    step = (updated_at - created_at) / max(len(events) - 1, 1)
    attached_at: dict[str, datetime] = {}
    # The times are hashed: the history just written is chained again, from its first event.
    case.history_head = chain.GENESIS
    for n, event in enumerate(events):
        when = event.created_at = created_at + step * n
        chain.link(case, event)
        CaseEvent.objects.filter(pk=event.pk).update(created_at=when, prev_hash=event.prev_hash, hash=event.hash)
        change = event.changes.get("attachments") or {}
        for file_id in set(change.get("to") or []) - set(change.get("from") or []):
            attached_at.setdefault(file_id, when)
    for file_id, when in attached_at.items():
        Attachment.objects.filter(case=case, file_id=file_id).update(attached_at=when)
        stored = when - timedelta(minutes=1)
        # A file several cases list keeps the earliest time.
        File.objects.filter(pk=file_id, created_at__gt=stored).update(created_at=stored, updated_at=stored)
    Case.objects.filter(pk=case.pk).update(created_at=created_at, updated_at=updated_at, history_head=case.history_head)


@transaction.atomic
def demo_seed() -> DemoResult:
    """Create the demo organisation, projects and cases once; every call issues a fresh demo token.

    The new token replaces the previous ones: earlier demo tokens still usable are revoked,
    so running ``make run`` every day leaves one working demo token, which expires in a week.
    """
    organisation, _ = Organisation.objects.get_or_create(name=ORGANISATION)
    created = 0
    projects = []
    for offset, name in enumerate(PROJECTS):
        project, _ = Project.objects.get_or_create(organisation=organisation, name=name)
        if not project.cases.exists():
            created += _seed_cases(project, offset)
            _seed_library(project, offset)
        projects.append(project)
    now = timezone.now()
    earlier = ScopedToken.objects.filter(created_by=SEEDED_BY, revoked_at__isnull=True)
    for stale in earlier.exclude(expires_at__lte=now):
        token_revoke(token=stale)
    token, plaintext = token_create(
        project=projects[0],
        name=f"demo token {now:%Y-%m-%d %H:%M:%S}",
        scopes=["cases:read", "cases:write", "media:read", "media:write"],
        expires_at=now + DEMO_TOKEN_LIFETIME,
        created_by=SEEDED_BY,
    )
    return DemoResult(project=projects[0], token=token, plaintext=plaintext, cases_created=created)


@transaction.atomic
def demo_staff_refresh() -> tuple[AbstractBaseUser, str]:
    """Create the demo staff user (a superuser named ``DEMO_STAFF_USERNAME``) or give it a new
    password; returns it with that password, random and fresh on every call, for the caller to
    show once (only its hash is stored)."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_STAFF_USERNAME)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user, password


@transaction.atomic
def demo_members_refresh() -> list[tuple[AbstractBaseUser, str]]:
    """Create the demo community's owner and moderator (``DEMO_MEMBERS``, staff, not superusers),
    or give them new passwords; returns each with its password, random and fresh on every call."""
    organisation = Organisation.objects.get(name=ORGANISATION)
    logins: list[tuple[AbstractBaseUser, str]] = []
    for username, role in DEMO_MEMBERS:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_active = True
        user.is_superuser = False
        user.set_password(password)
        user.save()
        Member.objects.update_or_create(organisation=organisation, user=user, defaults={"role": role})
        logins.append((user, password))
    return logins
