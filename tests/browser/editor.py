"""Helpers for driving the process editor (web/static/js/process-editor.js) in real Chromium.

The diagram itself is changed through the modeler's API (window.regelingEditor: modeler, modeling,
elementRegistry), as a test may; everything a process owner types or chooses goes through the properties panel's
DOM (`panel_field`), so the panel is what is proven.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page, expect

EDITOR_URL = "/processen/{key}/concept/bewerken"


def open_editor(page: Page, base: str, key: str = "regeling") -> None:
    page.goto(base + EDITOR_URL.format(key=key))
    expect(page.locator("#editor")).to_have_attribute("data-ready", "1", timeout=20_000)


def show_file(page: Page, name: str) -> None:
    page.locator(f'.editor-tab[data-file="{name}"]').click()
    expect(page.locator(f'.editor-tab[data-file="{name}"]')).to_have_attribute("aria-selected", "true")
    page.wait_for_function("name => window.regelingEditor.editor.current === name", arg=name)


def select_element(page: Page, element_id: str) -> None:
    """Select a diagram element as a click would (the properties panel then shows it)."""
    page.evaluate(
        """id => {
            const m = window.regelingEditor.modeler;
            const element = m.get('elementRegistry').get(id);
            if (!element) { throw new Error('no element ' + id); }
            m.get('selection').select(element);
        }""",
        element_id,
    )
    expect(panel_field(page, "id")).to_have_value(element_id)


def panel_field(page: Page, entry_id: str) -> Locator:
    """The input of a properties panel entry (bpmn-js-properties-panel gives it id bio-properties-panel-<entry>)."""
    return page.locator(f"#bio-properties-panel-{entry_id}")


def business_object(page: Page, element_id: str, expression: str) -> Any:
    """Evaluate `expression` with `bo` bound to the element's business object (moddle element)."""
    return page.evaluate(
        f"""id => {{
            const bo = window.regelingEditor.elementRegistry.get(id).businessObject;
            return {expression};
        }}""",
        element_id,
    )


def wait_for_model(page: Page, element_id: str, expression: str) -> None:
    """Wait until `expression` (with `bo`) is true: panel text fields apply their edits debounced."""
    page.wait_for_function(
        f"""id => {{
            const element = window.regelingEditor.elementRegistry.get(id);
            const bo = element && element.businessObject;
            return !!bo && ({expression});
        }}""",
        arg=element_id,
    )


def problems(page: Page) -> int:
    return int(page.locator("#editor").get_attribute("data-problems") or "0")


def insert_user_task_on_flow(page: Page, flow_id: str, room: int = 160) -> str:
    """Make room after the flow's source (as the space tool does) and drop a new user task onto the flow,
    which bpmn-js splits in two; returns the new task's id. Lane membership follows from where it lands."""
    new_id: str = page.evaluate(
        """([flowId, room]) => {
            const m = window.regelingEditor.modeler;
            const registry = m.get('elementRegistry');
            const modeling = m.get('modeling');
            const flow = registry.get(flowId);
            const start = flow.source.x + flow.source.width + 10;
            const everything = registry.filter(e => !e.labelTarget && e.parent);
            const adjust = m.get('spaceTool').calculateAdjustments(everything, 'x', room, start);
            modeling.createSpace(adjust.movingShapes, adjust.resizingShapes, { x: room, y: 0 }, 'e', start);
            const [from, to] = [flow.waypoints[0], flow.waypoints[flow.waypoints.length - 1]];
            const shape = m.get('elementFactory').createShape({ type: 'bpmn:UserTask' });
            const created = modeling.createShape(shape, { x: Math.round((from.x + to.x) / 2), y: from.y }, flow);
            return created.id;
        }""",
        [flow_id, room],
    )
    return new_id
