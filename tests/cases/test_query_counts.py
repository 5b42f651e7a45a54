"""Query counts of the hot paths, pinned (issue 2): never one query per row."""

from __future__ import annotations

import io

import pytest

from tests.factories import CaseFactory, attach_file

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


def statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def _with_attachments(project, count: int) -> None:
    for i in range(count):
        case = CaseFactory(project=project)
        for n in range(2):
            attach_file(case=case, content=io.BytesIO(b"evidence %d-%d" % (i, n)), original_name="e.txt")


@pytest.mark.parametrize("page_size", [1, 10, 100])
def test_list_is_three_queries_whatever_the_page_size(call, project, used_token, page_size, django_assert_num_queries):
    _with_attachments(project, page_size + 1)
    with django_assert_num_queries(3):  # token, cases page, attachments of the whole page
        r = call("GET", f"/v1/cases?limit={page_size}")
    assert r.status_code == 200, r.content
    assert len(r.json()["cases"]) == page_size
    assert all(len(c["attachments"]) == 2 for c in r.json()["cases"])


def test_get_one_is_at_most_three_queries(call, project, used_token, django_assert_num_queries):
    _with_attachments(project, 1)
    case_id = project.cases.get().id
    with django_assert_num_queries(3):  # token, case, its attachments
        r = call("GET", f"/v1/cases/{case_id}")
    assert r.status_code == 200, r.content


def test_patch_is_four_statements_and_its_history_event(call, project, used_token, django_assert_num_queries):
    _with_attachments(project, 1)
    case_id = project.cases.get().id
    with django_assert_num_queries(8) as captured:  # 6 statements + SAVEPOINT/RELEASE of the atomic block
        r = call("PATCH", f"/v1/cases/{case_id}", json_body={"title": "new title", "status": "closed"})
    assert r.status_code == 200, r.content
    sql = statements(captured)
    # token, SELECT … FOR UPDATE (a no-op clause on SQLite), attachments, UPDATE; then the
    # history INSERT that must share the change's transaction (issue 5), and the one lookup
    # of the project's webhook endpoints (none here, so no outbox row).
    assert len(sql) == 6, sql
    assert sql[3].startswith("UPDATE")
    assert sql[4].startswith('INSERT INTO "cases_caseevent"')
    assert sql[5].startswith("SELECT") and '"webhooks_webhookendpoint"' in sql[5]


def test_create_is_three_statements(call, used_token, django_assert_num_queries):
    with django_assert_num_queries(6) as captured:  # + SAVEPOINT/RELEASE
        r = call("POST", "/v1/cases", json_body={"title": "t"})
    assert r.status_code == 201, r.content
    # token, INSERT case, INSERT its first history event, the project's webhook endpoints (none)
    assert len(statements(captured)) == 4
