"""Scenario Z1/Z2 as one table: every route of the app (from ``app.url_map``: a new route without a row fails)
× every demo account (every role, and anonymous) × the objects of its scope and outside it.

Objects per kind of route: a case the account may see ("in") and one it may not ("uit"); for task routes also the
task guid of a case it may not see under the reference of one it may see ("idor"); for documents the same, and a
document of a visible case whose field the role may not receive ("verborgen"); each message name; one's own role
and a role one does not have. POSTs carry a valid CSRF token.

Expected per cell (``expected``): anonymous → the login page (302), except public routes; a role the route does
not admit → 403; an object outside the scope → 404; inside it, the lane of the task, the senders of the message
and the role switch decide between the route's own answer (``ROUTES``) and 403. Each 403/404 writes exactly one
refusal line to the ``web.security`` log naming the endpoint, never the URL; a refused POST changes nothing in
the database. Allowed POSTs that changed something are undone by restoring the seeded database.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text

from engine.access import LANE_ROLES, Role
from engine.demo import ACCOUNTS, DEMO_PASSWORD
from engine.model import Case, Document, HumanTask
from tests.websupport import Site, post

ROLE = {login: role for login, _name, _org, role in ACCOUNTS}
PEOPLE: list[str | None] = [None, *ROLE]  # None: not logged in
OWNERS = ("burgemeester", "dijkgraaf", "gedeputeerde")  # the bestuurder of each demo case

# Who may see each demo case (engine/access.py; README "Scope"): burgemeester's is unassigned (every adviser),
# dijkgraaf's is adviser 1's and at the BVA, gedeputeerde's adviser 2's and determined by the BVA.
SEES = {
    "burgemeester": {"burgemeester"},
    "dijkgraaf": {"dijkgraaf"},
    "gedeputeerde": {"gedeputeerde"},
    "werkgever-gemeente": {"burgemeester"},
    "werkgever-waterschap": {"dijkgraaf"},
    "werkgever-provincie": {"gedeputeerde"},
    "ccv-adviseur-1": {"burgemeester", "dijkgraaf"},
    "ccv-adviseur-2": {"burgemeester", "gedeputeerde"},
    "bva": {"dijkgraaf", "gedeputeerde"},
    "auditor": set(OWNERS),
    "procesbeheerder": set(),
    "beheerder": set(),
}
# Document fields a role may not receive (forms/visibility.json), of those the demo cases hold.
HIDDEN_DOCUMENTS = {
    Role.WERKGEVER: {"intakeverslag_document", "woningscan_rapport"},
    Role.BESTUURDER: {"intakeverslag_document"},
}
# Who may send each message (x-senders of forms/bericht_<name>.schema.json).
SENDERS = {
    "aftreden": {Role.WERKGEVER, Role.BESTUURDER},
    "bezwaar_ingediend": {Role.BESTUURDER, Role.WERKGEVER},
    "heradvies_aangevraagd": {Role.BESTUURDER, Role.CCV, Role.BVA},
}

PUBLIC = "public"  # no login needed
LOGGED_IN = "logged in"  # any role
CASE_READERS = frozenset({*LANE_ROLES, Role.AUDITOR})


@dataclass(frozen=True)
class Row:
    method: str
    roles: frozenset[Role] | str  # who the route admits: roles, LOGGED_IN or PUBLIC
    ok: int  # its answer to an admitted request in scope
    kind: str = "none"  # which objects the URL names: none, case, diagram, task, document, message, role, ...
    data: dict[str, str] = field(default_factory=dict)  # form fields besides the CSRF token


def roles(*admitted: Role) -> frozenset[Role]:
    return frozenset(admitted)


# The explicit table: endpoint -> what it admits and answers. Allowed POSTs are sent with an empty or wrong form
# where the route validates one (422: past every access check, nothing stored).
ROUTES: dict[str, Row] = {
    "static": Row("GET", PUBLIC, 200, "static"),
    "home.favicon": Row("GET", PUBLIC, 301),
    "health.alive": Row("GET", PUBLIC, 200),
    "health.ready": Row("GET", PUBLIC, 200),
    "auth.login": Row("GET", PUBLIC, 200),
    "auth.login_post": Row("POST", PUBLIC, 302, "credentials"),
    "auth.second_factor": Row("GET", PUBLIC, 302),  # nothing pending: on to the start or the login page
    "auth.second_factor_post": Row("POST", PUBLIC, 302, data={"code": "000000"}),
    "auth.enrol": Row("GET", PUBLIC, 302),
    "auth.enrol_post": Row("POST", PUBLIC, 302, data={"code": "000000"}),
    "auth.logout": Row("POST", PUBLIC, 302),
    "auth.switch_role": Row("POST", LOGGED_IN, 302, "role"),
    "auth.password": Row("GET", LOGGED_IN, 302),  # moved to Mijn account
    "account.index": Row("GET", LOGGED_IN, 200),
    "account.reauth_post": Row("POST", LOGGED_IN, 422),  # nothing typed: refused before any check
    "account.password": Row("GET", LOGGED_IN, 200),  # just logged in: fresh enough to change it
    "account.password_post": Row("POST", LOGGED_IN, 422),
    "account.enrol": Row("GET", LOGGED_IN, 200),
    "account.enrol_post": Row("POST", LOGGED_IN, 422, data={"code": "000000"}),
    "account.recovery_codes": Row("GET", LOGGED_IN, 200),
    "account.recovery_codes_post": Row("POST", LOGGED_IN, 200),
    "account.end_sessions": Row("POST", LOGGED_IN, 302, data={"sessie": "onbekend"}),
    "home.index": Row("GET", LOGGED_IN, 302),
    "models.index": Row("GET", roles(Role.PROCESBEHEERDER, Role.BEHEERDER), 200),
    "models.process": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.create_draft": Row("POST", roles(Role.PROCESBEHEERDER), 302),
    "models.editor": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.draft_file": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.save_file": Row("POST", roles(Role.PROCESBEHEERDER), 400),  # a form, not the JSON it needs
    "models.upload": Row("POST", roles(Role.PROCESBEHEERDER), 302),  # no file: back with a message
    "models.remove_file": Row("POST", roles(Role.PROCESBEHEERDER), 302),  # no file named: back with a message
    "models.check": Row("POST", roles(Role.PROCESBEHEERDER), 200),
    "models.compare": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.deploy": Row("POST", roles(Role.PROCESBEHEERDER), 422),  # no toelichting
    "models.migrate": Row("POST", roles(Role.PROCESBEHEERDER), 422),  # no toelichting
    "models.trial": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.trial_post": Row("POST", roles(Role.PROCESBEHEERDER), 422, data={"voorbeeld-aanmelding": "{"}),
    "models.form_editor": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.form_preview": Row("POST", roles(Role.PROCESBEHEERDER), 400),  # a form, not the JSON it needs
    "models.version_file": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "models.export_zip": Row("GET", roles(Role.PROCESBEHEERDER), 200),
    "notifications.index": Row("GET", LOGGED_IN, 200),
    "notifications.mark_read": Row("POST", LOGGED_IN, 302),
    "admin.failures": Row("GET", roles(Role.BEHEERDER), 200),
    "admin.retry": Row("POST", roles(Role.BEHEERDER), 422, "delivery", {"reden": ""}),
    "admin.accounts": Row("GET", roles(Role.BEHEERDER), 200),
    "admin.account_action": Row(
        "POST", roles(Role.BEHEERDER), 422, data={"account": "burgemeester", "actie": "uitschakelen", "reden": ""}
    ),
    "repairs.index": Row("GET", roles(Role.BEHEERDER), 200),
    # Repair is the beheerder's one way into a case (every case, each view in the access log); an empty reason
    # is refused before anything changes.
    "repairs.case": Row("GET", roles(Role.BEHEERDER), 200),
    "repairs.step": Row("GET", roles(Role.BEHEERDER), 200),
    "repairs.correct": Row("POST", roles(Role.BEHEERDER), 422, data={"reden": ""}),
    "repairs.move_back": Row("POST", roles(Role.BEHEERDER), 422, data={"reden": ""}),
    "privacy.inzage": Row("GET", roles(Role.AUDITOR), 200),
    "privacy.export": Row("POST", roles(Role.AUDITOR), 200, data={"account": "burgemeester", "formaat": "json"}),
    "audit.index": Row("GET", roles(Role.AUDITOR), 200),
    "audit.case": Row("GET", roles(Role.AUDITOR), 200, "audit"),
    "audit.verify": Row("GET", roles(Role.AUDITOR), 200, "audit"),
    "audit.export_json": Row("GET", roles(Role.AUDITOR), 200, "audit"),
    "audit.export_pdf": Row("GET", roles(Role.AUDITOR), 200, "audit"),
    "tasks.inbox": Row("GET", LANE_ROLES, 200),
    "cases.index": Row("GET", CASE_READERS, 200),
    "cases.new": Row("GET", roles(Role.BESTUURDER), 200),
    "cases.create": Row("POST", roles(Role.BESTUURDER), 422, data={"_actie": "versturen"}),
    "cases.show": Row("GET", CASE_READERS, 200, "case"),
    "cases.diagram": Row("GET", CASE_READERS, 200, "diagram"),
    "cases.document": Row("GET", CASE_READERS, 200, "document"),
    "cases.message": Row("GET", LANE_ROLES, 200, "message"),
    "cases.message_post": Row("POST", LANE_ROLES, 422, "message", {"_actie": "versturen"}),
    "tasks.task": Row("GET", LANE_ROLES, 200, "task"),
    "tasks.task_post": Row("POST", LANE_ROLES, 422, "task"),
    "tasks.claim": Row("POST", LANE_ROLES, 302, "task"),
    "tasks.unclaim": Row("POST", LANE_ROLES, 302, "task"),
}
# Routes that end or replace the client's login: the next cell of that person logs in again.
LOGIN_CHANGING = {"auth.login_post", "auth.logout"}


@dataclass(frozen=True)
class Cell:
    endpoint: str
    person: str | None
    scope: str  # "-", "in", "uit", "idor", "verborgen", "in:<message>", "eigen", "vreemd"
    url: str
    visible: bool = True  # the object is in the person's scope
    task_lane: str | None = None
    document_field: str | None = None
    message: str | None = None
    foreign_role: bool = False
    data: dict[str, str] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.endpoint} as {self.person or 'anoniem'} [{self.scope}] {self.url}"


@dataclass(frozen=True)
class Demo:
    """Ids of the demo data the URLs name."""

    reference: dict[str, str]  # owner -> case reference
    task: dict[str, tuple[str, str]]  # owner -> (task guid, lane) of its open task
    documents: dict[str, list[tuple[str, str]]]  # owner -> [(document id, field)]


def read_demo(site: Site) -> Demo:
    tasks: dict[str, tuple[str, str]] = {}
    documents: dict[str, list[tuple[str, str]]] = {}
    with site.session() as session:
        for owner, reference in site.cases.items():
            case = session.scalar(select(Case).where(Case.reference == reference))
            assert case is not None
            task = session.scalars(
                select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "open").order_by(HumanTask.id)
            ).first()
            assert task is not None
            tasks[owner] = (task.task_guid, task.lane)
            docs = session.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.field))
            documents[owner] = [(doc.id, doc.field) for doc in docs]
    return Demo(dict(site.cases), tasks, documents)


def home_case(person: str, demo: Demo) -> str:
    """The visible case the person works on: one whose open task is in their lane if there is one."""
    visible = [owner for owner in OWNERS if owner in SEES[person]]
    for owner in visible:
        if demo.task[owner][1] == ROLE[person].value:
            return owner
    return visible[0] if visible else OWNERS[0]


def foreign_case(person: str) -> str | None:
    return next((owner for owner in OWNERS if owner not in SEES[person]), None)


def cells_of(endpoint: str, row: Row, person: str | None, demo: Demo) -> list[Cell]:  # noqa: PLR0912
    mine = home_case(person, demo) if person else OWNERS[0]
    other = foreign_case(person) if person else OWNERS[1]
    ref = demo.reference
    cells: list[Cell] = []

    def add(scope: str, url: str, data: dict[str, str] | None = None, **facts: Any) -> None:
        cells.append(Cell(endpoint, person, scope, url, data={**row.data, **(data or {})}, **facts))

    match row.kind:
        case "none":
            add("-", URLS[endpoint])
        case "static":
            add("-", "/static/favicon.svg")
        case "credentials":
            login = person or "burgemeester"
            add("-", "/inloggen", data={"gebruikersnaam": login, "wachtwoord": DEMO_PASSWORD})
        case "delivery":
            add("-", "/beheer/storingen/1/opnieuw")
        case "role":
            own = ROLE[person].value if person else Role.BESTUURDER.value
            add("eigen", "/rol", data={"rol": own})
            foreign = Role.BEHEERDER.value if own != Role.BEHEERDER.value else Role.AUDITOR.value
            add("vreemd", "/rol", foreign_role=True, data={"rol": foreign})
        case "audit":
            suffix = AUDIT_SUFFIXES[endpoint]
            add("in", f"/audit/zaken/{ref[mine]}{suffix}")
            if other:
                add("uit", f"/audit/zaken/{ref[other]}{suffix}", visible=False)
        case "case" | "diagram":
            suffix = "/diagram/regeling.bpmn" if row.kind == "diagram" else ""
            add("in", f"/zaken/{ref[mine]}{suffix}")
            if other:
                add("uit", f"/zaken/{ref[other]}{suffix}", visible=False)
        case "task":
            action = {"tasks.claim": "/oppakken", "tasks.unclaim": "/teruggeven"}.get(endpoint, "")
            guid, lane = demo.task[mine]
            add("in", f"/zaken/{ref[mine]}/taken/{guid}{action}", task_lane=lane)
            if other:
                other_guid, other_lane = demo.task[other]
                add("uit", f"/zaken/{ref[other]}/taken/{other_guid}{action}", visible=False, task_lane=other_lane)
                add("idor", f"/zaken/{ref[mine]}/taken/{other_guid}{action}", visible=False, task_lane=other_lane)
        case "document":
            role = ROLE[person] if person else Role.AUDITOR
            hidden = HIDDEN_DOCUMENTS.get(role, set())
            with_documents = [o for o in OWNERS if demo.documents[o] and (not person or o in SEES[person])]
            seen = with_documents[0] if person and mine not in with_documents and with_documents else mine
            for doc_id, doc_field in demo.documents[seen]:
                if doc_field not in hidden:
                    add("in", f"/zaken/{ref[seen]}/documenten/{doc_id}", document_field=doc_field)
                    break
            for doc_id, doc_field in demo.documents[seen]:
                if doc_field in hidden:
                    add("verborgen", f"/zaken/{ref[seen]}/documenten/{doc_id}", visible=False)
                    break
            strangers = [o for o in OWNERS if demo.documents[o] and person and o not in SEES[person]]
            if strangers:
                doc_id, _field = demo.documents[strangers[0]][0]
                add("uit", f"/zaken/{ref[strangers[0]]}/documenten/{doc_id}", visible=False)
                add("idor", f"/zaken/{ref[seen]}/documenten/{doc_id}", visible=False)
        case "message":
            for name in SENDERS:
                add(f"in:{name}", f"/zaken/{ref[mine]}/berichten/{name}", message=name)
                if other:
                    add(f"uit:{name}", f"/zaken/{ref[other]}/berichten/{name}", visible=False, message=name)
        case _:
            raise AssertionError(f"no objects for kind {row.kind!r}")
    return cells


AUDIT_SUFFIXES = {
    "audit.case": "?stap=2",
    "audit.verify": "/verificatie",
    "audit.export_json": "/auditdossier.json",
    "audit.export_pdf": "/auditdossier.pdf",
}

URLS = {
    "audit.index": "/audit",
    "home.favicon": "/favicon.ico",
    "health.alive": "/gezond",
    "health.ready": "/gereed",
    "auth.login": "/inloggen",
    "auth.second_factor": "/inloggen/code",
    "auth.second_factor_post": "/inloggen/code",
    "auth.enrol": "/inloggen/koppelen",
    "auth.enrol_post": "/inloggen/koppelen",
    "auth.logout": "/uitloggen",
    "auth.password": "/wachtwoord",
    "account.index": "/mijn-account",
    "account.reauth_post": "/mijn-account/bevestigen",
    "account.password": "/mijn-account/wachtwoord",
    "account.password_post": "/mijn-account/wachtwoord",
    "account.enrol": "/mijn-account/koppelen",
    "account.enrol_post": "/mijn-account/koppelen",
    "account.recovery_codes": "/mijn-account/herstelcodes",
    "account.recovery_codes_post": "/mijn-account/herstelcodes",
    "account.end_sessions": "/mijn-account/sessies",
    "admin.accounts": "/beheer/accounts",
    "admin.account_action": "/beheer/accounts",
    "home.index": "/",
    "models.index": "/processen",
    "models.process": "/processen/regeling",
    "models.create_draft": "/processen/regeling/concept",
    "models.editor": "/processen/regeling/concept/bewerken",
    "models.draft_file": "/processen/regeling/concept/bestanden/regeling.bpmn",
    "models.save_file": "/processen/regeling/concept/bestanden/regeling.bpmn",
    "models.upload": "/processen/regeling/concept/bestanden",
    "models.remove_file": "/processen/regeling/concept/bestand-verwijderen",
    "models.check": "/processen/regeling/concept/controleren",
    "models.compare": "/processen/regeling/concept/vergelijken",
    "models.deploy": "/processen/regeling/concept/in-gebruik-nemen",
    "models.migrate": "/processen/regeling/versies/1/zaken/BV-2026-0001/migreren",
    "models.trial": "/processen/regeling/concept/proefrit",
    "models.trial_post": "/processen/regeling/concept/proefrit",
    "models.form_editor": "/processen/regeling/concept/formulieren/aanmelding.schema.json",
    "models.form_preview": "/processen/regeling/concept/formulieren/aanmelding.schema.json/voorbeeld",
    "models.version_file": "/processen/regeling/versies/1/bestanden/regeling.bpmn",
    "models.export_zip": "/processen/regeling/versies/1/export.zip",
    "notifications.index": "/meldingen",
    "notifications.mark_read": "/meldingen/gelezen",
    "admin.failures": "/beheer/storingen",
    "privacy.inzage": "/privacy/inzage",
    "repairs.index": "/beheer/herstel",
    "repairs.case": "/beheer/herstel/BV-2026-0001",  # the burgemeester's demo case: its aanmelding is event 2
    "repairs.step": "/beheer/herstel/BV-2026-0001/stappen/2",
    "repairs.correct": "/beheer/herstel/BV-2026-0001/stappen/2",
    "repairs.move_back": "/beheer/herstel/BV-2026-0001/stappen/2/terugzetten",
    "privacy.export": "/privacy/inzage/export",
    "tasks.inbox": "/taken",
    "cases.index": "/zaken",
    "cases.new": "/aanmelden",
    "cases.create": "/aanmelden",
}


def expected(row: Row, cell: Cell) -> int:
    if cell.person is None:
        return row.ok if row.roles == PUBLIC else 302  # to the login page
    role = ROLE[cell.person]
    if isinstance(row.roles, frozenset) and role not in row.roles:
        return 403
    if not cell.visible:
        return 404
    if cell.task_lane is not None and cell.task_lane != role.value:
        return 403
    if cell.message is not None and role not in SENDERS[cell.message]:
        return 403
    if cell.foreign_role:
        return 403
    return row.ok


# -- the database: what a refused request must leave alone, and restoring it after an allowed one ---------------

# Everything a case, a task, a document, a notification, an e-mail or an account holds; sessions, login attempts
# and the access log are left out (a request may rightly write those).
FINGERPRINT_TABLES = (
    "case",
    "event",
    "human_task",
    "document",
    "task_draft",
    "notification",
    "mail_delivery",
    "outbox",
    "admin_action",
    "reference_counter",
    "process_version",
    "process_draft",
)


def fingerprint(site: Site) -> str:
    digest = hashlib.sha256()
    engine = site.app.extensions["regeling.db"].engine
    with engine.connect() as connection:
        for table in FINGERPRINT_TABLES:
            for row in connection.execute(text(f'SELECT * FROM "{table}" ORDER BY 1')):  # noqa: S608 - our names
                digest.update(repr(tuple(row)).encode())
        for row in connection.execute(text("SELECT id, password_hash, active, roles FROM account ORDER BY id")):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@dataclass
class Clients:
    site: Site
    template: Path
    clients: dict[str | None, FlaskClient] = field(default_factory=dict)
    restores: int = 0
    logins: int = 0

    def of(self, person: str | None) -> FlaskClient:
        if person not in self.clients:
            self.logins += 1
            self.clients[person] = self.site.client(person)
        return self.clients[person]

    def forget(self, person: str | None) -> None:
        self.clients.pop(person, None)

    def restore(self) -> None:
        """The seeded database again (sessions included: everyone logs in anew)."""
        self.restores += 1
        self.site.restore()  # SQLite: the file again; PostgreSQL: the database again from its template
        self.clients.clear()


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "web.security" and record.getMessage().startswith("weigering ")
    ]


def request(clients: Clients, row: Row, cell: Cell) -> Any:
    client = clients.of(cell.person)
    if row.method == "GET":
        return client.get(cell.url)
    data = dict(cell.data)
    if cell.endpoint == "tasks.task_post":
        data["lock_version"] = str(clients.site.case(cell.url.split("/")[2]).lock_version)
    return post(client, cell.url, data)


def prepare(clients: Clients, row: Row, cell: Cell) -> bool:
    """Give back what one holds: an admitted unclaim needs the task claimed first. True if something changed."""
    if cell.endpoint != "tasks.unclaim" or expected(row, cell) != row.ok:
        return False
    response = post(clients.of(cell.person), cell.url.removesuffix("/teruggeven") + "/oppakken")
    assert response.status_code == 302, cell.label()
    return True


def test_every_route_every_role_every_scope(
    site: Site, seeded_template: tuple[Path, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    endpoints = {rule.endpoint for rule in site.app.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == set(), "routes without a row in ROUTES (add one: who may, what it answers)"
    assert set(ROUTES) - endpoints == set(), "rows in ROUTES for routes the app no longer has"
    for rule in site.app.url_map.iter_rules():
        assert ROUTES[rule.endpoint].method in (rule.methods or set()), rule

    demo = read_demo(site)
    clients = Clients(site, seeded_template[0])
    caplog.set_level(logging.WARNING, logger="web.security")
    failures: list[str] = []
    counted: dict[str, int] = {}
    seen_scopes: set[tuple[str, str]] = set()
    # person by person (a restored database means logging in again), the routes that end a login last
    order = sorted(ROUTES, key=lambda endpoint: (endpoint in LOGIN_CHANGING, endpoint))
    for person in PEOPLE:
        for endpoint in order:
            row = ROUTES[endpoint]
            for cell in cells_of(endpoint, row, person, demo):
                counted[endpoint] = counted.get(endpoint, 0) + 1
                seen_scopes.add((endpoint, cell.scope.split(":")[0]))
                failures += run_cell(clients, row, cell, caplog)
    assert not failures, f"{len(failures)} of {sum(counted.values())} cells wrong:\n" + "\n".join(failures)
    # the table really covered each kind of object
    for endpoint, row in ROUTES.items():
        wanted = {
            "task": {"in", "uit", "idor"},
            "document": {"in", "verborgen", "uit", "idor"},
            "case": {"in", "uit"},
            "diagram": {"in", "uit"},
            "audit": {"in", "uit"},
            "message": {"in", "uit"},
            "role": {"eigen", "vreemd"},
        }.get(row.kind, {"-"})
        assert {scope for e, scope in seen_scopes if e == endpoint} == wanted, endpoint


def run_cell(clients: Clients, row: Row, cell: Cell, caplog: pytest.LogCaptureFixture) -> list[str]:
    want = expected(row, cell)
    changed_before = prepare(clients, row, cell)
    before = fingerprint(clients.site) if row.method == "POST" else ""
    caplog.clear()
    response = request(clients, row, cell)
    response.close()
    problems: list[str] = []
    if response.status_code != want:
        problems.append(f"{cell.label()}: {response.status_code}, expected {want}")
    if cell.person is None and want == 302 and row.roles != PUBLIC:
        location = response.headers.get("Location", "")
        if not location.startswith("/inloggen"):
            problems.append(f"{cell.label()}: anonymous sent to {location!r}, not the login page")
    lines = refusal_lines(caplog)
    refused = want in (403, 404)
    if len(lines) != (1 if refused else 0):
        problems.append(f"{cell.label()}: {len(lines)} refusal log lines for a {response.status_code}")
    for line in lines:
        problems += check_line(cell, response.status_code, line.getMessage())
    after_changed = False
    if row.method == "POST":
        after_changed = fingerprint(clients.site) != before
        if refused and after_changed:
            problems.append(f"{cell.label()}: refused, yet the database changed")
    if cell.endpoint in LOGIN_CHANGING:
        clients.forget(cell.person)
    if changed_before or after_changed:
        clients.restore()
    return problems


def check_line(cell: Cell, status: int, message: str) -> list[str]:
    """The refusal line names who, the endpoint and the status; never the URL, an id from it or form data."""
    wanted = [
        f"status={status}",
        f"account={cell.person or 'anoniem'}",
        f"route={cell.endpoint}",
        "referentie=",
        f"methode={ROUTES[cell.endpoint].method}",
    ]
    if cell.person:
        wanted.append(f"rol={ROLE[cell.person].value}")
    problems = [f"{cell.label()}: refusal line {message!r} lacks {part!r}" for part in wanted if part not in message]
    ids = [part for part in cell.url.split("/") if len(part) >= 6 and any(c.isdigit() for c in part)]
    leaked = [part for part in ids if part in message]
    leaked += [value for value in cell.data.values() if len(value) > 3 and value != cell.person and value in message]
    if "/" in message or "?" in message or leaked:
        problems.append(f"{cell.label()}: refusal line {message!r} carries part of the request {leaked}")
    return problems


# -- the refusal line itself ----------------------------------------------------------------------------------------


def test_a_csrf_refusal_is_logged_once_without_the_form(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    client = site.client("burgemeester")
    caplog.set_level(logging.WARNING, logger="web.security")
    before = fingerprint(site)
    response = client.post("/aanmelden?zaak=BV-2026-0001", data={"csrf_token": "fout", "woonadres": "Geheimpad 1"})
    assert response.status_code == 400
    (line,) = refusal_lines(caplog)
    message = line.getMessage()
    assert line.levelno == logging.WARNING
    assert "status=400" in message and "route=cases.create" in message and "account=burgemeester" in message
    assert "Geheimpad" not in message and "BV-2026" not in message and "zaak" not in message
    assert fingerprint(site) == before


def test_the_reference_on_the_refusal_page_is_the_one_in_the_log(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="web.security")
    response = site.client("werkgever-gemeente").get(f"/zaken/{site.cases['dijkgraaf']}?zoek=Demostraat")
    assert response.status_code == 404
    (line,) = refusal_lines(caplog)
    reference = line.getMessage().rsplit("referentie=", 1)[1]
    assert f"<code>{reference}</code>" in response.text
    assert "Demostraat" not in line.getMessage() and "zoek" not in line.getMessage()


def test_a_url_no_route_matches_is_not_a_refusal(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="web.security")
    client = site.client("burgemeester")
    assert client.get("/nergens").status_code == 404
    assert client.get("/static/nergens.css").status_code == 404
    assert refusal_lines(caplog) == []


def test_anonymous_refusal_names_no_account(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="web.security")
    response = site.client().post("/meldingen/gelezen", data={"csrf_token": "geen"})
    assert response.status_code == 400
    (line,) = refusal_lines(caplog)
    assert "account=anoniem rol=- methode=POST route=notifications.mark_read" in line.getMessage()
