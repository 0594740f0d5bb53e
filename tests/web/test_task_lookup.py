"""The task page finds case, task and process version in one statement (engine/queries.visible_task): what
it refuses, and how many statements a request of the task page and its submit cost (bench/http.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event

from engine import cache
from tests.websupport import Site, lock_version_of, post

CONTACT = {
    "contactpersoon_organisatie": "Secretaris-directeur",
    "datum_contact": "2026-11-03",
    "datum_gesprek_organisatie": "2026-11-10",
}


@dataclass
class Traffic:
    statements: list[str] = field(default_factory=list)
    connections: int = 0  # taken from the pool, each with its liveness check
    commits: int = 0


@contextmanager
def counted(site: Site) -> Iterator[Traffic]:
    traffic = Traffic()
    engine = site.app.extensions["regeling.db"].engine

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SET ", "PRAGMA")):
            traffic.statements.append(statement)

    def checkout(*_args: object) -> None:
        traffic.connections += 1

    def commit(_conn: object) -> None:
        traffic.commits += 1

    listeners = (("before_cursor_execute", count), ("checkout", checkout), ("commit", commit))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield traffic
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def test_a_task_out_of_scope_or_unknown_is_not_found_and_another_lane_is_forbidden(site: Site) -> None:
    reference = site.cases["burgemeester"]
    guid = site.open_task(reference, "contact_organisatie").task_guid
    assert site.client("ccv-adviseur-1").get(f"/zaken/{reference}/taken/{guid}").status_code == 200
    # A werkgever of another organisation does not learn that the case exists.
    assert site.client("werkgever-provincie").get(f"/zaken/{reference}/taken/{guid}").status_code == 404
    # A guid the case does not have, and a case that does not exist.
    assert site.client("ccv-adviseur-1").get(f"/zaken/{reference}/taken/onbekend").status_code == 404
    assert site.client("ccv-adviseur-1").get(f"/zaken/BV-1999-0001/taken/{guid}").status_code == 404
    # The werkgever of the case's own organisation sees the case, but the task is in the CCV lane.
    assert site.client("werkgever-gemeente").get(f"/zaken/{reference}/taken/{guid}").status_code == 403


def test_the_task_page_and_its_submit_stay_within_their_statement_budget(site: Site) -> None:
    reference = site.cases["burgemeester"]
    url = f"/zaken/{reference}/taken/{site.open_task(reference, 'contact_organisatie').task_guid}"
    client = site.client("ccv-adviseur-1")
    client.get(url)  # the log-in's first page; the workflow is now in this process's cache
    cache.clear()  # the first visit of a form, as a person makes it: the workflow restored from its stored state
    with counted(site) as page:
        lock = lock_version_of(client.get(url).text)
    with counted(site) as submit:
        response = post(client, url, {**CONTACT, "lock_version": lock, "_actie": "versturen"})
    assert response.status_code == 302
    # 7: session with account; case with task, version and state; draft; the steps shown with their tasks and
    # who did them; documents; access log; bell.
    assert len(page.statements) <= 7, page.statements
    # 9 now: session with account, case with task and version, the command's lock and writes, the drafts dropped.
    assert len(submit.statements) <= 10, submit.statements
    assert (submit.connections, submit.commits) == (2, 1)  # the page's reads, and the command's transaction
    if site.app.extensions["regeling.db"].engine.dialect.name == "postgresql":
        assert (page.connections, page.commits) == (1, 0)  # the access log row commits by itself
    else:
        assert (page.connections, page.commits) == (2, 1)  # a reader must not hold SQLite's write lock
