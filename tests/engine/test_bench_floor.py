"""bench/floor.py's app does the engine work of a real completion, so its figures bound the real app's."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bench import http as bench_http
from bench.floor import floor_app
from engine import commands, replay
from tests.support import CaseDriver

pytestmark = pytest.mark.postgres


def _waiting_at(engine: Engine, reference: str) -> list[str]:
    """The user tasks the case's workflow, restored from what is stored, waits at."""
    with CaseDriver(engine, checks=False).factory() as session:
        workflow = replay.restore(session, commands.find_case(session, reference))
        return sorted(task.bpmn_id for task in workflow.ready_user_tasks())


def test_the_floor_completes_a_task_as_the_engine_does(postgres_engine: Engine) -> None:
    (floor_case, floor_guid), (engine_case, _guid) = bench_http.seed(postgres_engine, 1, 2)
    client = floor_app(postgres_engine).test_client()
    path = f"/zaken/{floor_case}/taken/{floor_guid}"

    page = client.get(path).get_data(as_text=True)
    lock = bench_http.LOCK_VERSION.search(page)
    assert lock is not None and 'name="datum_contact"' in page

    assert client.post(path, data={**bench_http.CONTACT, "lock_version": "0"}).status_code == 409
    assert client.post(path, data={**bench_http.CONTACT, "lock_version": lock.group(1)}).status_code == 302

    CaseDriver(postgres_engine, checks=False).complete(engine_case, "contact_organisatie", "CCV", bench_http.CONTACT)
    assert _waiting_at(postgres_engine, floor_case) == _waiting_at(postgres_engine, engine_case) != []
    with CaseDriver(postgres_engine, checks=False).factory() as session:
        assert [t.bpmn_id for t in commands.open_tasks(session, commands.find_case(session, floor_case))] == []
