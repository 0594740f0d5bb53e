"""Every timer of the regeling as data: the diagrams' timer events, and per timer how a case arms it and what
it must do when it fires (used by test_deadlines.py)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path as FilePath
from typing import Any

from lxml import etree

from tests.processes.paths import (
    BEZWAARTERMIJN_VERSTREKEN,
    aanmelding,
    advisering,
    advisering_tot_concept,
    besluit,
    formele_toets,
    in_natura,
    kiezen,
    registratie,
)
from tests.processes.steps import Advance, Complete, ExpectReady, Message

B, C, W, V = "Bestuurder", "CCV", "Werkgever", "BVA"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
TIMER_KINDS = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}

Step = Complete | Message | Advance | ExpectReady


# ----------------------------------------------------------------------------------------------- diagrams
@dataclass(frozen=True)
class DiagramTimer:
    """One timer event of a diagram, as drawn."""

    diagram: str  # file name, e.g. "pkvw.bpmn"
    element: str  # the BPMN id of the timer event
    kind: str  # duration / date / cycle
    expression: str  # the Python expression giving the ISO 8601 text
    # The element the engine names while the timer waits and when it fires (`live_elements`, `timers_fired`):
    # the timer event itself, or, behind an event-based gateway, the gateway (SpiffWorkflow waits there for
    # whichever of its events comes first).
    waits_at: str

    def results(self) -> set[str]:
        """Every ISO text the expression can give (its string constants: `"P2D" if urgent else "P14D"`)."""
        tree = ast.parse(self.expression, mode="eval")
        return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def diagram_timers(processes: FilePath) -> dict[str, DiagramTimer]:
    """Every timer event of every diagram in ``processes``, by BPMN id."""
    timers: dict[str, DiagramTimer] = {}
    for file in sorted(processes.glob("*.bpmn")):
        root = etree.parse(str(file)).getroot()  # noqa: S320 - our own repository files
        nodes = {element.get("id"): element for element in root.iter() if isinstance(element.tag, str)}
        for definition in root.iter(f"{BPMN}timerEventDefinition"):
            event = definition.getparent()
            assert event is not None
            (spec,) = [child for child in definition if isinstance(child.tag, str)]
            kind = TIMER_KINDS[spec.tag.removeprefix(BPMN)]
            element = str(event.get("id"))
            timers[element] = DiagramTimer(
                diagram=file.name,
                element=element,
                kind=kind,
                expression=(spec.text or "").strip(),
                waits_at=_gateway_before(root, nodes, element) or element,
            )
    return timers


def _gateway_before(root: etree._Element, nodes: dict[str | None, etree._Element], element: str) -> str | None:
    for flow in root.iter(f"{BPMN}sequenceFlow"):
        if flow.get("targetRef") == element:
            source = nodes.get(flow.get("sourceRef"))
            if source is not None and source.tag == f"{BPMN}eventBasedGateway":
                return str(source.get("id"))
    return None


# ----------------------------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class TimerScenario:
    """How a case reaches one timer and what the timer does when it fires.

    The last step of ``setup`` is the command that arms the timer; its deadline is counted from that
    command's (frozen) time.
    """

    id: str
    element: str
    setup: tuple[Step, ...]
    data: Mapping[str, Any] = field(default_factory=dict)  # the case data the timer expression reads
    instances: int = 1  # timers of this element armed by the arming command (one per parallel branch)
    # The effect of firing: the notification sent (once per instance), the elements the firing completes,
    # the user tasks it opens, the end event the case reaches.
    notification: tuple[str, str] | None = None
    completes: tuple[str, ...] = ()
    opens: tuple[str, ...] = ()
    end_event: str | None = None
    due_task: str | None = None  # the user task whose due date (inbox) is this deadline
    # Whether it is the case's earliest deadline once armed (so `case.next_timer_at` shows it at once);
    # otherwise the earlier ones fire first and it is the next one by one second before its own moment.
    earliest: bool = True

    def setup_span(self) -> timedelta:
        """How far the clock moves during the setup (its Advance steps)."""
        return sum((step.by for step in self.setup if isinstance(step, Advance)), timedelta())


def _tot_besluit(route: str, *aanvaard: bool) -> tuple[Step, ...]:
    return (aanmelding(), *advisering(), kiezen(*aanvaard), formele_toets(), besluit(route))


_PKVW_HERSTEL = (aanmelding(functie="commissaris_van_de_koning"), *advisering("niet_conform"))
_BEZWAAR = Message("bezwaar_ingediend", B, {"bezwaarschrift": "doc-bezwaar-001"})
_TERUG_NAAR_CCV = Complete(
    "vaststellen_advies",
    V,
    {"besluit_bva": "terug_naar_ccv", "pkvw_uitzondering": "niet_gevraagd", "toelichting_bva": "Graag aanvullen."},
)

SCENARIOS: tuple[TimerScenario, ...] = (
    TimerScenario(
        id="advisering-bnd_sla_contact-normaal-P14D",
        element="bnd_sla_contact",
        setup=(aanmelding(),),
        data={"urgent": False},
        notification=(C, "sla_contact_herinnering"),
        completes=("bnd_sla_contact", "notify_sla_contact", "end_sla_contact"),
        due_task="contact_organisatie",
    ),
    TimerScenario(
        id="advisering-bnd_sla_contact-urgent-P2D",
        element="bnd_sla_contact",
        setup=(aanmelding(functie="burgemeester", acuut=True),),
        data={"urgent": True},
        notification=(C, "sla_contact_herinnering"),
        completes=("bnd_sla_contact", "notify_sla_contact", "end_sla_contact"),
        due_task="contact_organisatie",
    ),
    TimerScenario(
        id="advisering-bnd_sla_advies-P8W",
        element="bnd_sla_advies",
        setup=(aanmelding(), *advisering_tot_concept()[:4]),  # the woningscan opens the conceptadvies
        notification=(C, "sla_advies_herinnering"),
        completes=("bnd_sla_advies", "notify_sla_advies", "end_sla_advies"),
        due_task="conceptadvies",
    ),
    TimerScenario(
        # The BVA sends the concept back ten days later: the conceptadvies opens again with a fresh deadline.
        id="advisering-bnd_sla_advies-opnieuw_na_terugsturen-P8W",
        element="bnd_sla_advies",
        setup=(aanmelding(), *advisering_tot_concept(), Advance(timedelta(days=10)), _TERUG_NAAR_CCV),
        notification=(C, "sla_advies_herinnering"),
        completes=("bnd_sla_advies", "notify_sla_advies", "end_sla_advies"),
        due_task="conceptadvies",
    ),
    TimerScenario(
        id="advisering-bnd_sla_bva-P8W",
        element="bnd_sla_bva",
        setup=(aanmelding(), *advisering_tot_concept()),
        notification=(V, "sla_vaststelling_herinnering"),
        completes=("bnd_sla_bva", "notify_sla_bva", "end_sla_bva"),
        due_task="vaststellen_advies",
    ),
    TimerScenario(
        id="pkvw-bnd_pkvw_herinnering-P3M",
        element="bnd_pkvw_herinnering",
        setup=_PKVW_HERSTEL,
        notification=(B, "pkvw_herinnering"),
        completes=("bnd_pkvw_herinnering", "notify_pkvw_herinnering", "end_pkvw_herinnering"),
        due_task="pkvw_bewijs_uploaden",
    ),
    TimerScenario(
        id="pkvw-bnd_pkvw_sluiting-P12M",
        element="bnd_pkvw_sluiting",
        setup=_PKVW_HERSTEL,
        notification=(B, "pkvw_gesloten"),
        completes=("bnd_pkvw_sluiting", "notify_pkvw_gesloten", "pkvw_gesloten_markeren", "end_pkvw_gesloten"),
        end_event="end_gesloten_zonder_pkvw",
        earliest=False,  # the 3-month reminder comes first
    ),
    TimerScenario(
        id="behandeling-bnd_awb_termijn-P8W",
        element="bnd_awb_termijn",
        setup=(aanmelding(), *advisering(), kiezen(True, False, False, False)),  # the verstrekking starts
        notification=(W, "awb_beslistermijn_verstreken"),
        completes=("bnd_awb_termijn", "notify_awb_escalatie", "end_awb_escalatie"),
    ),
    TimerScenario(
        id="uitvoering-bnd_bestel_termijn-P4W",
        element="bnd_bestel_termijn",
        setup=_tot_besluit("in_natura", True, False, False, False),
        notification=(W, "bestel_termijn_herinnering"),
        completes=("bnd_bestel_termijn", "notify_bestel_termijn", "end_bestel_termijn"),
        due_task="maatregel_bestellen",
    ),
    TimerScenario(
        # Two measures in kind: one order task per measure, each with its own reminder, both due at once.
        id="uitvoering-bnd_bestel_termijn-twee_maatregelen-P4W",
        element="bnd_bestel_termijn",
        setup=_tot_besluit("in_natura", True, True, False, False),
        instances=2,
        notification=(W, "bestel_termijn_herinnering"),
        completes=("bnd_bestel_termijn", "notify_bestel_termijn", "end_bestel_termijn"),
        due_task="maatregel_bestellen",
    ),
    TimerScenario(
        # The declaratie route arms no reminder of its own, so the bezwaartermijn is the only deadline.
        id="bezwaar-evt_bezwaartermijn_verstreken-P6W",
        element="evt_bezwaartermijn_verstreken",
        setup=_tot_besluit("declaratie", False, True, False, False),
        completes=("evt_bezwaartermijn_verstreken", "geen_bezwaar", "end_geen_bezwaar", "bezwaarfase"),
    ),
    TimerScenario(
        id="bezwaar-bnd_beslistermijn-P6W",
        element="bnd_beslistermijn",
        setup=(*_tot_besluit("declaratie", False, True, False, False), _BEZWAAR),
        notification=(W, "beslistermijn_bezwaar_escalatie"),
        completes=("bnd_beslistermijn", "notify_beslistermijn", "end_beslistermijn"),
        due_task="beslissen_op_bezwaar",
    ),
    TimerScenario(
        # A full round in kind; the financial registration closes the behandeling and opens the lopende fase.
        id="regeling-evt_herevaluatie-P4Y",
        element="evt_herevaluatie",
        setup=(
            aanmelding(),
            *advisering(),
            kiezen(True, False, False, False),
            formele_toets(),
            besluit("in_natura"),
            *in_natura(1),
            BEZWAARTERMIJN_VERSTREKEN,
            registratie(1000),
        ),
        notification=(C, "heradvies_aangevraagd"),
        completes=("evt_herevaluatie", "herevaluatie_reden", "notify_heradvies"),
        opens=("contact_organisatie",),
    ),
)
