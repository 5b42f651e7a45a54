from argparse import ArgumentParser
from collections.abc import Generator
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError

from cases import chain
from cases.models import Case, CaseEvent
from serverops.ids import id_regex
from tokens.models import Project

CASE_ID, PROJECT_ID = id_regex("c"), id_regex("p")

# Rows read per round trip: memory stays that of a chunk, whatever the number of events.
CHUNK = 2000


class Command(BaseCommand):
    help = (
        "Recompute the hash chain of every case's history (or one project's, or one case's); "
        "prints 'verified N cases, M events', or names the first case and event where a chain breaks and exits 1."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--project", help="only this project's cases (p_…)")
        parser.add_argument("--case", help="only this case (c_…)")

    def handle(self, *args: Any, project: str | None, case: str | None, **options: Any) -> None:
        cases = Case.objects.order_by("id")
        events = CaseEvent.objects.order_by("case_id", "created_at", "id")
        if project is not None:
            # An id that cannot be one is not looked up (PostgreSQL refuses a NUL in a query).
            if not PROJECT_ID.fullmatch(project) or not Project.objects.filter(pk=project).exists():
                raise CommandError(f"no project with id {project[:40]!r}")
            cases, events = cases.filter(project_id=project), events.filter(case__project_id=project)
        if case is not None:
            if not CASE_ID.fullmatch(case) or not cases.filter(pk=case).exists():
                raise CommandError(f"no case with id {case[:40]!r}" + (f" in project {project}" if project else ""))
            cases, events = cases.filter(pk=case), events.filter(case_id=case)
        # Django's iterators are generators: closed below.
        heads = cast(Generator[tuple[str, str]], cases.values_list("id", "history_head").iterator(chunk_size=CHUNK))
        rows = cast(Generator[CaseEvent], events.only(*chain.HASHED_COLUMNS).iterator(chunk_size=CHUNK))
        joined = chain.by_case(heads, rows)
        verified = read = 0
        try:
            for case_id, head, own in joined:
                count, broken = chain.verify(case_id, head, own)
                read += count
                if broken is not None:
                    raise CommandError(str(broken))
                verified += 1
        finally:
            # The database cursors closed now, in this transaction, not when collected.
            for stream in (joined, rows, heads):
                stream.close()
        self.stderr.write(f"Every chain holds: {verified} case(s), {read} event(s) recomputed.")
        self.stdout.write(f"verified {verified} cases, {read} events")
