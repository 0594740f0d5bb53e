"""Static checks of processes/*.bpmn: documentation on every flow node, no task with several incoming flows,
a shape for every node and an edge for every flow, no overlapping shapes, boundary events on their host's
border, orthogonal waypoints, and no edge running through an unrelated shape.

Run by tests/processes/test_layout.py.
"""

from __future__ import annotations

from lxml import etree

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}


def check(path: str) -> list[str]:  # noqa: PLR0912
    findings = []
    root = etree.parse(path).getroot()
    proc = root.find("bpmn:process", NS)
    nodes = {}
    for el in proc:
        tag = etree.QName(el).localname
        if tag in ("laneSet", "documentation", "sequenceFlow", "extensionElements"):
            continue
        nodes[el.get("id")] = (tag, el)
        if "Gateway" not in tag and len(el.findall("bpmn:incoming", NS)) > 1:
            findings.append(f"{el.get('id')}: several incoming flows into a non-gateway")
        if el.find("bpmn:documentation", NS) is None or not (el.find("bpmn:documentation", NS).text or "").strip():
            findings.append(f"{el.get('id')}: no documentation")
    lanes = {ref.text for ref in proc.iter(f"{{{NS['bpmn']}}}flowNodeRef")}
    findings += [f"{n}: not in a lane" for n in nodes if n not in lanes]
    shapes = {
        s.get("bpmnElement"): [float(s.find("dc:Bounds", NS).get(k)) for k in ("x", "y", "width", "height")]
        for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")
    }
    flows = {e.get("id"): (e.get("sourceRef"), e.get("targetRef")) for e in proc.findall("bpmn:sequenceFlow", NS)}
    edges = {
        e.get("bpmnElement"): [(float(w.get("x")), float(w.get("y"))) for w in e.findall("di:waypoint", NS)]
        for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")
    }
    findings += [f"{n}: no shape" for n in nodes if n not in shapes]
    findings += [f"{f}: no edge" for f in flows if f not in edges]
    hosts = {i: el.get("attachedToRef") for i, (tag, el) in nodes.items() if tag == "boundaryEvent"}
    plain = [i for i in nodes if i not in hosts]

    def overlap(a, b):
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    for i, a in enumerate(plain):
        for b in plain[i + 1 :]:
            if overlap(shapes[a], shapes[b]):
                findings.append(f"{a} overlaps {b}")
    for b, h in hosts.items():
        hb, bb = shapes[h], shapes[b]
        cx, cy = bb[0] + bb[2] / 2, bb[1] + bb[3] / 2
        if not (abs(cy - (hb[1] + hb[3])) < 1 and hb[0] <= cx <= hb[0] + hb[2]):
            findings.append(f"{b}: not on the border of {h}")
    for fid, pts in edges.items():
        for p, q in zip(pts, pts[1:], strict=False):
            if p[0] != q[0] and p[1] != q[1]:
                findings.append(f"{fid}: diagonal segment {p}->{q}")
        s, t = flows[fid]
        for sid in nodes:
            if sid in (s, t) or sid == hosts.get(s):
                continue
            x, y, w, h = shapes[sid]
            for p, q in zip(pts, pts[1:], strict=False):
                x0, x1 = sorted((p[0], q[0]))
                y0, y1 = sorted((p[1], q[1]))
                if x0 < x + w - 1 and x1 > x + 1 and y0 < y + h - 1 and y1 > y + 1:
                    findings.append(f"{fid}: runs through {sid}")
                    break
    return findings
