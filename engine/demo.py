"""Demo accounts for every role and a few cases at different stages, for ``make run`` (synthetic data only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import commands, documents
from engine.access import Actor, Role
from engine.accounts import create_account, ensure_organisation, hash_password
from engine.clock import FrozenClock
from engine.model import Account, Case

DEMO_HISTORY = timedelta(days=7)
DEMO_PASSWORD = "demo-wachtwoord"  # noqa: S105 - the documented password of the local demo only

ORGANISATIONS = (
    ("gemeente-voorbeeldstad", "Gemeente Voorbeeldstad", "gemeente"),
    ("provincie-voorbeeldland", "Provincie Voorbeeldland", "provincie"),
    ("waterschap-voorbeelddelta", "Waterschap Voorbeelddelta", "waterschap"),
    ("ccv", "Centrum voor Criminaliteitspreventie en Veiligheid", "ccv"),
    ("bzk", "Ministerie van BZK (BVA)", "bzk"),
)

# (login, name, organisation, role)
ACCOUNTS = (
    ("burgemeester", "Bea Burgemeester", "gemeente-voorbeeldstad", Role.BESTUURDER),
    ("gedeputeerde", "Gijs Gedeputeerde", "provincie-voorbeeldland", Role.BESTUURDER),
    ("dijkgraaf", "Dirk Dijkgraaf", "waterschap-voorbeelddelta", Role.BESTUURDER),
    ("werkgever-gemeente", "Wim Werkgever (gemeente)", "gemeente-voorbeeldstad", Role.WERKGEVER),
    ("werkgever-provincie", "Wanda Werkgever (provincie)", "provincie-voorbeeldland", Role.WERKGEVER),
    ("werkgever-waterschap", "Wouter Werkgever (waterschap)", "waterschap-voorbeelddelta", Role.WERKGEVER),
    ("ccv-adviseur-1", "Carla CCV-adviseur", "ccv", Role.CCV),
    ("ccv-adviseur-2", "Cor CCV-adviseur", "ccv", Role.CCV),
    ("bva", "Bram BVA", "bzk", Role.BVA),
    ("procesbeheerder", "Petra Procesbeheerder", "bzk", Role.PROCESBEHEERDER),
    ("auditor", "Anton Auditor", "bzk", Role.AUDITOR),
    ("beheerder", "Bert Beheerder", "bzk", Role.BEHEERDER),
)

# A PDF small enough to read in one glance: enough for the demo's uploaded reports.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass(frozen=True)
class DemoStep:
    task: str
    login: str
    data: dict[str, Any]
    uploads: tuple[str, ...] = ()


def aanmelding(naam: str, functie: str, organisatie: tuple[str, str], acuut: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "naam": naam,
        "functie": functie,
        "ambtsstatus": "in_ambt",
        "organisatie_type": organisatie[1],
        "organisatie_naam": organisatie[0],
        "datum_benoeming": "2025-09-01",
        "telefoon_prive": "0600000000",
        "email_prive": "demo@voorbeeld.invalid",
        "woonadres": "Demostraat 1, 9999 ZZ Nergenshuizen",
        "ontheffing_woonplaatsvereiste": False,
        "acute_dreiging": acuut,
        "toestemming_contact_organisatie": True,
        "toestemming_delen_advies": True,
    }
    if acuut:
        data["urgentie_reden"] = "Demo: dreigende berichten op sociale media."
    return data


def advisering(ccv: str, werkgever: str) -> list[DemoStep]:
    return [
        DemoStep(
            "contact_organisatie",
            ccv,
            {
                "contactpersoon_organisatie": "Demo-secretaris",
                "datum_contact": "2026-10-01",
                "datum_gesprek_organisatie": "2026-10-08",
            },
        ),
        DemoStep(
            "input_organisatie",
            werkgever,
            {
                "lokaal_dreigingsbeeld": "Demo: verhoogde spanning rond een besluit.",
                "bekende_incidenten": "Demo: een dreigende e-mail.",
                "eigen_maatregelen_organisatie": "Demo: protocol agressie en geweld.",
            },
        ),
        DemoStep(
            "intakeverslag",
            ccv,
            {"intakeverslag_samenvatting": "Demo: verhoogd risico."},
            uploads=("intakeverslag_document",),
        ),
        DemoStep(
            "woningscan",
            ccv,
            {
                "datum_woningscan": "2026-10-20",
                "huishouden": "Demo-huishouden",
                "woningtype": "vrijstaand",
                "eigendom": "koop",
                "bevindingen_woning": "Demo: achterom onverlicht.",
                "online_vindbaarheid": "Demo: adres vindbaar.",
                "verplaatsingen": "Demo: vast patroon.",
                "werk_bevindingen": "Demo: publieke agenda.",
                "pkvw_status": "geldig_certificaat",
                "pkvw_certificaatnummer": "PKVW-DEMO-1",
                "pkvw_certificaatdatum": "2022-01-01",
            },
            uploads=("woningscan_rapport",),
        ),
        DemoStep(
            "conceptadvies",
            ccv,
            {
                "maatregelen": [
                    {
                        "domein": "wonen",
                        "categorie": "elektronisch",
                        "omschrijving": "Demo: alarmsysteem",
                        "geschatte_kosten": 3000,
                    },
                    {
                        "domein": "digitaal",
                        "categorie": "digitaal",
                        "omschrijving": "Demo: online vindbaarheid beperken",
                        "geschatte_kosten": 600,
                    },
                ],
                "conceptadvies_toelichting": "Demo: twee maatregelen.",
            },
        ),
    ]


VASTSTELLEN = DemoStep(
    "vaststellen_advies",
    "bva",
    {"besluit_bva": "vaststellen", "pkvw_uitzondering": "niet_gevraagd", "vaststellingsdatum": "2026-11-01"},
    uploads=("beveiligingsadvies_document",),
)

CASES: tuple[tuple[str, bool, list[DemoStep]], ...] = (
    # Just applied: waiting for the CCV to contact the organisation.
    ("burgemeester", False, []),
    # Advice drafted: waiting for the BVA to determine it.
    ("dijkgraaf", True, advisering("ccv-adviseur-1", "werkgever-waterschap")),
    # Advice determined: waiting for the bestuurder to accept or decline the measures.
    ("gedeputeerde", False, [*advisering("ccv-adviseur-2", "werkgever-provincie"), VASTSTELLEN]),
)


def seed(session: Session, *, at: datetime) -> list[str]:
    """Create the demo organisations, accounts and cases, unless accounts exist already; returns references."""
    if session.scalar(select(Account.id).limit(1)) is not None:
        return []
    add_people(session, password_hash=hash_password(DEMO_PASSWORD), at=at)
    # The demo's history lies in the past week, so that everything it set in motion (e-mails, reminders)
    # is due now rather than hours from now.
    clock = FrozenClock(at - DEMO_HISTORY)
    return [_demo_case(session, login, urgent, steps, clock) for login, urgent, steps in CASES]


def add_people(session: Session, *, password_hash: str, at: datetime) -> None:
    """The demo's organisations and accounts, each with ``password_hash``."""
    for code, name, kind in ORGANISATIONS:
        ensure_organisation(session, code, name, kind)
    session.flush()  # accounts refer to the organisations; the unit of work does not order unrelated classes
    for login, name, organisation, role in ACCOUNTS:
        create_account(
            session,
            account_id=login,
            name=name,
            email=f"{login}@voorbeeld.invalid",
            organisation=organisation,
            roles=[role],
            password_hash=password_hash,
            at=at,
        )
    session.flush()


def _actor(login: str) -> Actor:
    _login, _name, organisation, role = next(account for account in ACCOUNTS if account[0] == login)
    return Actor(login, role, organisation)


def _demo_case(session: Session, login: str, urgent: bool, steps: list[DemoStep], clock: FrozenClock) -> str:
    bestuurder = _actor(login)
    organisation = next(org for org in ORGANISATIONS if org[0] == bestuurder.organisation)
    name = next(account[1] for account in ACCOUNTS if account[0] == login)
    functie = {"gemeente": "burgemeester", "provincie": "gedeputeerde", "waterschap": "dijkgraaf"}[organisation[2]]
    case = commands.start_case(session, bestuurder, clock=clock)
    first = DemoStep("aanmelding", login, aanmelding(name, functie, (organisation[1], organisation[2]), urgent))
    for step in (first, *steps):
        clock.advance(timedelta(hours=2))
        _complete(session, case, step, clock)
    return case.reference


def _complete(session: Session, case: Case, step: DemoStep, clock: FrozenClock) -> None:
    actor = _actor(step.login)
    task = next(t for t in commands.open_tasks(session, case) if t.bpmn_id == step.task)
    data = dict(step.data)
    for field in step.uploads:
        doc = documents.store_document(
            session,
            case,
            form=task.form or "",
            field=field,
            filename=f"{field}.pdf",
            content=DEMO_PDF,
            uploaded_by=actor.id,
            at=clock(),
        )
        data[field] = doc.id
    session.flush()
    commands.complete_task(
        session, actor, case.reference, task.task_guid, data, lock_version=case.lock_version, clock=clock
    )
