"""A case's audit file, in two forms that both carry the final hash of its history.

- JSON, for machines: every event as it is hashed (its plaintext payload, ``state_hash``, ``prev_hash``, ``hash``),
  the chain's genesis and head, the hash of the pinned process version, and the result of verifying the chain and
  re-executing the case. Anyone holding it can recompute the chain without the database. A step's data, and the
  before and after of a correction, appear as the auditor may see them; a move back's serialized workflow is left
  out; an event whose form data was erased says so (``erased``, ``erased_by``) and keeps its digest. Where the file
  leaves something out (``withheld``) the chain still recomputes, the form data's digest not.
- PDF, for people: the case's header, each diagram the case went through drawn from its BPMN DI (shapes at their
  ``BPMNShape`` bounds, flows along their ``BPMNEdge`` waypoints) and coloured by the state the case left each
  element in, and the unified timeline. Every page names the final hash.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, bundles, crypto, history, visibility
from engine.access import Role
from engine.errors import EngineError
from engine.model import Case, Event, HumanTask, Organisation

FORMAT = "regeling-auditdossier/1"
HASH_RULE = (
    "hash = sha256(prev_hash || canonical_json(body)); canonical_json = JSON with sorted keys, no spaces, UTF-8; "
    "body = {case, seq, type, actor, actor_role, occurred_at, payload (without its form-data parts), payload_hash, "
    "state_hash, prev_hash}; payload_hash = sha256(canonical_json({part: value})) over the form-data parts "
    f"{list(history.SEALED_PARTS)} present in the payload (null if none; an erased event keeps only the digest). "
    "The first prev_hash is the genesis, the last hash the final hash (engine/history.py)."
)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


# -- JSON -----------------------------------------------------------------------------------------------------


def audit_json(session: Session, case: Case, verification: audit.AuditVerification, now: datetime) -> dict[str, Any]:
    """The machine-checkable audit file of ``case`` (plaintext payloads: the auditor may receive every field)."""
    version = case.process_version
    events = list(session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))
    forms = _task_forms(session, case)
    erased_by = {seq: event.seq for event in events if event.type == history.ERASURE for seq in _erased_seqs(event)}
    return {
        "format": FORMAT,
        "generated_at": _iso(now),
        "case": {
            "reference": case.reference,
            "status": case.status,
            "end_event": case.end_event,
            "organisation": case.organisation,
            "created_at": _iso(case.created_at),
            "updated_at": _iso(case.updated_at),
            "event_count": case.event_count,
        },
        "process_version": {
            "process_key": version.process_key,
            "version": version.version,
            "content_hash": version.content_hash,
            "deployed_at": _iso(version.deployed_at),
            "deployed_by": version.deployed_by,
        },
        "chain": {"genesis": history.GENESIS_HASH, "rule": HASH_RULE, "length": len(events)},
        "events": [_event_json(event, forms, erased_by.get(event.seq)) for event in events],
        "final_hash": case.last_hash,
        "verification": verification_json(verification),
    }


def _task_forms(session: Session, case: Case) -> dict[str, str]:
    """Task guid -> the form of that step, for what the auditor may see of its data."""
    rows = session.execute(select(HumanTask.task_guid, HumanTask.form).where(HumanTask.case_id == case.id))
    return {guid: form for guid, form in rows if form}


def _erased_seqs(event: Event) -> list[int]:
    return [int(seq) for seq in event.payload.get(history.ERASED_EVENTS, []) or []]


# What the file leaves out of a payload: a move back's ``state`` is the engine's serialized workflow (all case data
# at that moment, readable to no one as such); its before and after say which steps were open.
OMITTED_PARTS = ("state",)


def _event_json(event: Event, forms: Mapping[str, str], erased_by: int | None) -> dict[str, Any]:
    try:
        stored: dict[str, Any] = history.payload_of(event)
    except (EngineError, crypto.CryptoError):  # an event that no longer decrypts is reported, not fatal to the file
        stored = {}
        payload: dict[str, Any] | None = None
    else:
        payload = _as_auditor_sees(stored, forms)
    row: dict[str, Any] = {
        "seq": event.seq,
        "type": event.type,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "occurred_at": _iso(event.occurred_at),
        "payload": payload,
        "state_hash": event.state_hash,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    row["payload_hash"] = getattr(event, "payload_hash", None)
    if payload is None:
        row["payload_readable"] = False
    if history.is_erased(event.payload, event.payload_hash):
        # The form data went at the end of its retention period; its digest still stands in the chain.
        row["erased"] = True
        row["erased_by"] = erased_by
    withheld = _withheld(stored, payload or {})
    if withheld:
        row["withheld"] = withheld  # parts or fields left out: payload_hash cannot be recomputed from the rest
    return row


def _as_auditor_sees(payload: dict[str, Any], forms: Mapping[str, str]) -> dict[str, Any]:
    """The payload with a step's data (as submitted, or before and after a correction) as the auditor may see it
    (forms/visibility.json), and without the parts the file leaves out."""
    form = forms.get(str(payload.get("task_guid", "")), "")
    shown = {key: value for key, value in payload.items() if key not in OMITTED_PARTS}
    for key in ("data", "before", "after"):
        if form and isinstance(shown.get(key), Mapping):
            shown[key] = visibility.visible_data(Role.AUDITOR, form, shown[key])
    return shown


def _withheld(stored: Mapping[str, Any], shown: Mapping[str, Any]) -> list[str]:
    """What of the stored payload the file does not show: ``state``, or ``data.<field>`` the auditor may not see."""
    withheld = [key for key in OMITTED_PARTS if key in stored]
    for key in ("data", "before", "after"):
        if isinstance(stored.get(key), Mapping) and isinstance(shown.get(key), Mapping):
            withheld += [f"{key}.{name}" for name in stored[key] if name not in shown[key]]
    return withheld


def verification_json(verification: audit.AuditVerification) -> dict[str, Any]:
    return {
        "result": "Geverifieerd" if verification.ok else "Niet geverifieerd",
        "chain": {
            "ok": verification.chain.ok,
            "events": verification.chain.events,
            "broken_at": verification.chain.broken_at,
            "reason": verification.chain.reason,
        },
        "replay": {
            "ok": verification.rerun.ok,
            "events": verification.rerun.events,
            "diverged_at": verification.rerun.diverged_at,
            "reason": verification.rerun.reason,
            "erased": verification.erased,
        },
        "findings": verification.findings,
    }


# -- the diagram as its DI draws it ---------------------------------------------------------------------------

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"


@dataclass(frozen=True)
class Shape:
    element: str
    kind: str  # the BPMN element's tag without namespace: userTask, startEvent, exclusiveGateway, lane, ...
    name: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Edge:
    element: str
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Layout:
    process_id: str
    shapes: list[Shape]
    edges: list[Edge]

    def bounds(self) -> tuple[float, float, float, float]:
        xs = [s.x for s in self.shapes] + [x for e in self.edges for x, _ in e.points]
        ys = [s.y for s in self.shapes] + [y for e in self.edges for _, y in e.points]
        xe = [s.x + s.w for s in self.shapes] + xs
        ye = [s.y + s.h for s in self.shapes] + ys
        return min(xs), min(ys), max(xe), max(ye)


def diagram_layout(text: str, process_id: str) -> Layout | None:
    """The DI of the diagram that draws ``process_id`` in one BPMN file; None if the file has none."""
    root = bundles.parse_xml(text)
    if root is None or not any(p.get("id") == process_id for p in root.iter(f"{{{bundles.BPMN_NS}}}process")):
        return None
    semantic = {str(e.get("id")): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    plane = next(root.iter(f"{{{BPMNDI_NS}}}BPMNPlane"), None)
    if plane is None:
        return None
    shapes = [_shape(s, semantic) for s in plane.iter(f"{{{BPMNDI_NS}}}BPMNShape")]
    edges = [
        Edge(str(e.get("bpmnElement", "")), [_point(p) for p in e.iter(f"{{{DI_NS}}}waypoint")])
        for e in plane.iter(f"{{{BPMNDI_NS}}}BPMNEdge")
    ]
    found = [s for s in shapes if s is not None]
    return Layout(process_id, found, [e for e in edges if len(e.points) >= 2]) if found else None


def _shape(node: etree._Element, semantic: Mapping[str, etree._Element]) -> Shape | None:
    bounds = next(node.iter(f"{{{DC_NS}}}Bounds"), None)
    element_id = str(node.get("bpmnElement", ""))
    if bounds is None or element_id not in semantic:
        return None
    element = semantic[element_id]
    return Shape(
        element=element_id,
        kind=etree.QName(element).localname,
        name=str(element.get("name") or ""),
        x=float(bounds.get("x", 0)),
        y=float(bounds.get("y", 0)),
        w=float(bounds.get("width", 0)),
        h=float(bounds.get("height", 0)),
    )


def _point(node: etree._Element) -> tuple[float, float]:
    return float(node.get("x", 0)), float(node.get("y", 0))


def case_layouts(case: Case, process_ids: Iterable[str]) -> list[Layout]:
    files = bundles.bundle_of(case.process_version).diagram_files
    layouts = []
    for process_id in process_ids:
        for name, text in sorted(files.items()):
            layout = diagram_layout(text, process_id) if name.endswith(".bpmn") else None
            if layout is not None:
                layouts.append(layout)
                break
    return layouts


# -- PDF ------------------------------------------------------------------------------------------------------

# (stroke, fill) per final state, the colours of the web diagram (web/static/css/diagram.css).
STATE_COLOURS = {
    "done": ((27, 122, 52), (231, 245, 235)),
    "active": ((26, 86, 196), (232, 240, 254)),
    "waiting": ((168, 83, 10), (255, 243, 227)),
    "cancelled": ((95, 99, 104), (241, 243, 244)),
}
STATE_TEXTS = {"done": "afgerond", "active": "actief", "waiting": "wacht", "cancelled": "geannuleerd"}
PLAIN = ((60, 60, 60), (255, 255, 255))
CONTAINERS = {"participant", "lane"}
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
MARGIN = 12.0
# DejaVu Sans, shipped with the package (engine/fonts, licence beside it) so a fresh machine draws the same PDF:
# Dutch text, ⚠️, ≥, € and curly quotes as they were written. fpdf2 embeds only the glyphs used.
FONT = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_DIR = Path(__file__).parent / "fonts"


def _add_fonts(pdf: FPDF) -> None:
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT, style, FONT_DIR / name)


@functools.cache
def _font_characters() -> frozenset[int]:
    """The code points both faces can draw."""
    probe = FPDF()
    _add_fonts(probe)
    faces = [frozenset(getattr(font, "cmap", {})) for font in probe.fonts.values()]
    _close_fonts(probe)
    return frozenset.intersection(*faces)


def _close_fonts(pdf: FPDF) -> None:
    # fpdf2 reads a font file lazily and closes it only once it has embedded that face.
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


def pdf_text(text: str) -> str:
    """What the embedded font can draw: every character it has, any other one as "?"."""
    drawable = _font_characters()
    return "".join(ch if ord(ch) in drawable or ch in "\n\t" else "?" for ch in text)


class _AuditPdf(FPDF):
    def __init__(self, reference: str, final_hash: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.reference = reference
        self.final_hash = final_hash
        _add_fonts(self)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 4)
        # Uncompressed, so the final hash in the metadata can be found in the file with any tool, not only a PDF
        # reader (the shown text is glyph ids of the embedded font).
        self.compress = False
        self.set_subject(f"Auditdossier {reference}; eindhash {final_hash}")

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.set_font(FONT, size=7)
        self.set_text_color(80, 80, 80)
        text = f"Auditdossier zaak {self.reference} - eindhash {self.final_hash} - pagina {self.page_no()}"
        self.cell(0, 4, pdf_text(text), align="C")


def audit_pdf(session: Session, case: Case, verification: audit.AuditVerification, now: datetime) -> bytes:
    """The readable audit file of ``case`` as PDF bytes."""
    final = audit.moment(session, case, case.event_count) if case.event_count else None
    states = _final_states(final.markers if final else {})
    pdf = _AuditPdf(case.reference, case.last_hash)
    pdf.set_title(pdf_text(f"Auditdossier zaak {case.reference}"))
    pdf.set_creator("regeling-orchestration")
    pdf.add_page()
    organisation = session.get(Organisation, case.organisation)
    _header(pdf, case, organisation.name if organisation else case.organisation, verification, now)
    for layout in case_layouts(case, final.diagrams if final else [case.process_version.process_key]):
        pdf.add_page()
        _diagram(pdf, layout, states)
    pdf.add_page()
    _timeline(pdf, case, audit.timeline(session, case))
    try:
        return bytes(pdf.output())
    finally:
        _close_fonts(pdf)


def _verification_text(verification: audit.AuditVerification) -> str:
    if not verification.ok:
        return "Niet geverifieerd: " + "; ".join(verification.findings)
    if verification.erased:
        return "Geverifieerd (hashketen); opnieuw uitvoeren niet mogelijk: gegevens gewist na de bewaartermijn"
    return "Geverifieerd (hashketen en opnieuw uitvoeren vanaf de eerste gebeurtenis)"


def _final_states(markers: Mapping[str, Sequence[str]]) -> dict[str, str]:
    # Later states win: an element done in an earlier round and active again is shown active.
    states: dict[str, str] = {}
    for state in ("done", "cancelled", "waiting", "active"):
        for element in markers.get(state, []):
            states[element] = state
    return states


def _heading(pdf: FPDF, text: str, size: int = 14) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(0, 0, 0)
    pdf.multi_cell(0, size * 0.5, pdf_text(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _pair(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(FONT, "B", 9)
    pdf.cell(55, 5, pdf_text(label))
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(0, 5, pdf_text(value), new_x="LMARGIN", new_y="NEXT")


def _header(pdf: FPDF, case: Case, organisation: str, verification: audit.AuditVerification, now: datetime) -> None:
    version = case.process_version
    _heading(pdf, f"Auditdossier zaak {case.reference}", 18)
    for label, value in (
        ("Status", audit.STATUSES.get(case.status, case.status)),
        ("Organisatie", organisation),
        ("Gestart (UTC)", audit.utc(case.created_at)),
        ("Laatst gewijzigd (UTC)", audit.utc(case.updated_at)),
        ("Procesversie", f"{version.process_key} versie {version.version}"),
        ("Hash procesversie", version.content_hash),
        ("Gebeurtenissen", str(case.event_count)),
        ("Eindhash", case.last_hash),
        ("Verificatie", _verification_text(verification)),
        ("Opgemaakt (UTC)", audit.utc(now)),
    ):
        _pair(pdf, label, value)
    pdf.ln(3)
    pdf.set_font(FONT, "", 8)
    legend = ", ".join(f"{STATE_TEXTS[s]}" for s in STATE_COLOURS)
    pdf.multi_cell(0, 4, pdf_text(f"Diagrammen: kleur per eindtoestand ({legend}); grijs omlijnd = niet bereikt."))


def _diagram(pdf: FPDF, layout: Layout, states: Mapping[str, str]) -> None:
    _heading(pdf, f"Diagram {layout.process_id}", 12)
    left, top, right, bottom = layout.bounds()
    top_mm = pdf.get_y() + 2
    width, height = pdf.w - 2 * MARGIN, pdf.h - top_mm - MARGIN - 6
    scale = min(width / max(right - left, 1), height / max(bottom - top, 1))

    def at(x: float, y: float) -> tuple[float, float]:
        return MARGIN + (x - left) * scale, top_mm + (y - top) * scale

    pdf.set_line_width(0.15)
    for shape in sorted(layout.shapes, key=lambda s: s.kind not in CONTAINERS):
        _draw_shape(pdf, shape, at, scale, states.get(shape.element))
    for edge in layout.edges:
        _draw_edge(pdf, [at(x, y) for x, y in edge.points], states.get(edge.element))


def _draw_shape(pdf: FPDF, shape: Shape, at: Any, scale: float, state: str | None) -> None:
    x, y = at(shape.x, shape.y)
    w, h = shape.w * scale, shape.h * scale
    stroke, fill = STATE_COLOURS.get(state or "", PLAIN)
    pdf.set_draw_color(*stroke)
    pdf.set_fill_color(*fill)
    pdf.set_line_width(0.5 if state else 0.15)
    if state == "cancelled":
        pdf.set_dash_pattern(dash=0.6, gap=0.6)
    size = max(2.5, min(6.0, 36 * scale))  # points, in step with the drawing's scale
    if shape.kind in CONTAINERS:
        pdf.set_draw_color(150, 150, 150)
        pdf.rect(x, y, w, h, style="D")
        if shape.kind == "lane":  # the pool's name is the page's heading
            _label(pdf, shape.name, x + 0.5, y + 0.5, min(w, 40), 3.0, size + 1)
    elif shape.kind in EVENTS:
        pdf.ellipse(x, y, w, h, style="DF")
        _label(pdf, shape.name, x - 6, y + h + 0.3, w + 12, 4.0, size * 0.9)
    elif shape.kind.endswith("Gateway"):
        pdf.polygon([(x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h), (x, y + h / 2)], style="DF")
        _label(pdf, shape.name, x - 6, y + h + 0.3, w + 12, 4.0, size * 0.9)
    else:
        pdf.rect(x, y, w, h, style="DF", round_corners=True, corner_radius=min(w, h) * 0.12)
        _label(pdf, shape.name, x + 0.3, y + 0.5, w - 0.6, h - 1, size)
    pdf.set_dash_pattern()


def _label(pdf: FPDF, text: str, x: float, y: float, w: float, h: float, size: float) -> None:
    if not text or w <= 1:
        return
    pdf.set_font(FONT, size=size)
    pdf.set_text_color(0, 0, 0)
    lines = pdf.multi_cell(w, size * 0.4, pdf_text(text), align="C", dry_run=True, output="LINES")
    if not isinstance(lines, list):
        return
    line_height = size * 0.4
    fitting = max(1, int(h // line_height))
    y_text = y
    for line in lines[:fitting]:
        pdf.set_xy(x, y_text)
        pdf.cell(w, line_height, str(line), align="C")
        y_text += line_height


def _draw_edge(pdf: FPDF, points: list[tuple[float, float]], state: str | None) -> None:
    stroke, _fill = STATE_COLOURS.get(state or "", ((90, 90, 90), (0, 0, 0)))
    pdf.set_draw_color(*stroke)
    pdf.set_fill_color(*stroke)
    pdf.set_line_width(0.2)
    pdf.polyline(points)
    (x1, y1), (x2, y2) = points[-2], points[-1]
    length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 0.01)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    size = 1.2
    base, half = (x2 - ux * size, y2 - uy * size), size / 2
    pdf.polygon(
        [
            (x2, y2),
            (base[0] - uy * half, base[1] + ux * half),
            (base[0] + uy * half, base[1] - ux * half),
        ],
        style="DF",
    )


def _timeline(pdf: FPDF, case: Case, entries: Sequence[audit.AuditEntry]) -> None:
    _heading(pdf, "Tijdlijn (tijden in UTC)", 12)
    labels = _field_labels(case)
    for entry in entries:
        pdf.set_font(FONT, "B", 9)
        number = f"#{entry.seq} " if entry.seq is not None else ""
        title = f"{number}{audit.utc(entry.at)} - {entry.what}{': ' + entry.detail if entry.detail else ''}"
        pdf.multi_cell(0, 4.5, pdf_text(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 8)
        by = entry.by
        who = f"door {by.name} ({by.role}{', ' + by.organisation if by.organisation else ''})"
        pdf.multi_cell(0, 4, pdf_text(who), new_x="LMARGIN", new_y="NEXT")
        for name, value in entry.data.items():
            label = labels.get((entry.form, name), name)
            pdf.multi_cell(0, 4, pdf_text(f"    {label}: {_value_text(value)}"), new_x="LMARGIN", new_y="NEXT")
        for note in entry.notes:
            pdf.multi_cell(0, 4, pdf_text(f"    {note}"), new_x="LMARGIN", new_y="NEXT")
        if entry.hash:
            pdf.set_text_color(90, 90, 90)
            pdf.multi_cell(0, 4, f"    hash {entry.hash}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
        pdf.ln(1.5)


MAX_VALUE = 400


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "ja" if value else "nee"
    elif isinstance(value, Mapping):
        text = "; ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = " | ".join(_value_text(item) for item in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _field_labels(case: Case) -> dict[tuple[str, str], str]:
    labels: dict[tuple[str, str], str] = {}
    for name in bundles.bundle_of(case.process_version).form_files:
        try:
            schema = bundles.form_of(case.process_version, name).schema
        except EngineError:  # a form that does not load keeps its field names
            continue
        for field, spec in (schema.get("properties") or {}).items():
            if isinstance(spec, Mapping) and spec.get("title"):
                labels[(name, field)] = str(spec["title"])
    return labels
