"""Which BPMN elements the path tests reach, against every flow node the diagrams declare."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path as FilePath

from lxml import etree

from tests.processes.drive import drive_path
from tests.processes.steps import Path
from tests.support import CaseDriver

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
FLOW_NODES = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "manualTask",
    "task",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
}


def diagram_elements(processes: FilePath) -> set[str]:
    found = set()
    for file in processes.glob("*.bpmn"):
        root = etree.parse(str(file)).getroot()  # noqa: S320 - our own repository files
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag.removeprefix(BPMN) in FLOW_NODES:
                found.add(element.get("id"))
    return found


def reached_elements(driver: CaseDriver, paths: Iterable[Path]) -> set[str]:
    """Every element some event of some path's case records as completed."""
    driver.deploy(FilePath(__file__).resolve().parents[2] / "processes")
    reached: set[str] = set()
    for path in paths:
        reference = drive_path(driver, path)
        for event in driver.events(reference):
            reached.update(event.payload["completed"])
    return reached
