""" "Proefrit": a draft runs in memory with sample data (given or generated from the forms), timers advance by
themselves, notifications are only listed; no case, no database."""

from __future__ import annotations

from engine import bundles, trial
from engine.bundles import Bundle
from tests.support import ROOT

MINI = ROOT / "tests" / "fixtures" / "mini" / "processes"


def test_generated_sample_data_takes_the_default_way_and_lists_the_mail_it_would_send() -> None:
    bundle = bundles.read_bundle([MINI])
    assert trial.sample_for(bundle, "aanvraag.schema.json") == {"naam": "voorbeeld", "posten": []}
    result = trial.run(bundle, "mini", {})
    assert result.problem is None and result.finished
    assert result.path == ["start", "aanvragen", "bereken", "gw", "end_afgewezen"]
    assert result.markers() == {"done": result.path, "active": []}


def test_given_sample_data_leads_the_way_and_bad_data_stops_the_run_at_its_task() -> None:
    bundle = bundles.read_bundle([MINI])
    samples = {"aanvragen": {"naam": "Synthetisch", "posten": [{"bedrag": 2000}]}}
    # Data for beoordelen that its form refuses: the run stops there and says why.
    samples["beoordelen"] = {"akkoord": "misschien"}
    result = trial.run(bundle, "mini", samples)
    assert result.path[:6] == ["start", "aanvragen", "bereken", "gw", "meld_ccv"]
    assert ("CCV", "aanmelding_ontvangen") in result.notifications
    assert result.waiting == ["beoordelen"]
    assert result.problem is not None and "'Beoordelen' (beoordelen) kloppen niet" in result.problem
    assert not result.finished


def test_a_broken_draft_says_so_instead_of_running() -> None:
    bundle = bundles.read_bundle([MINI])
    broken = Bundle(
        {**bundle.files, "mini.bpmn": bundle.files["mini.bpmn"].replace('targetRef="end_klaar"', 'targetRef="x"')}
    )
    result = trial.run(broken, "mini", {})
    assert result.problem is not None and result.problem.startswith("het concept kan niet worden gestart")
    tasks = trial.user_tasks(bundle, "mini")
    assert [(t.bpmn_id, t.lane, t.form) for t in tasks] == [
        ("aanvragen", "Bestuurder", "aanvraag.schema.json"),
        ("beoordelen", "CCV", "beoordeling.schema.json"),
    ]


def test_when_only_a_timer_can_move_the_clock_jumps_to_it() -> None:
    bundle = bundles.read_bundle([MINI])
    wait = (
        '<bpmn:intermediateCatchEvent id="wacht" name="Wacht"><bpmn:timerEventDefinition id="wacht_def">'
        '<bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        '<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="wacht" />'
        '<bpmn:sequenceFlow id="f4b" sourceRef="wacht" targetRef="beoordelen" />'
    )
    text = bundle.files["mini.bpmn"].replace(
        '<bpmn:sequenceFlow id="f4" sourceRef="meld_ccv" targetRef="beoordelen" />', wait
    )
    text = text.replace(
        "<bpmn:flowNodeRef>beoordelen</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>beoordelen</bpmn:flowNodeRef><bpmn:flowNodeRef>wacht</bpmn:flowNodeRef>",
    )
    samples = {"aanvragen": {"naam": "Synthetisch", "posten": [{"bedrag": 5}]}}
    result = trial.run(Bundle({**bundle.files, "mini.bpmn": text}), "mini", samples)
    assert result.finished, result.problem
    assert result.path.index("wacht") < result.path.index("beoordelen")
    assert "Termijn wacht verstreken (08-01-2026)" in result.steps


def test_a_failing_script_stops_the_run_with_a_dutch_reason_and_names_its_element() -> None:
    bundle = bundles.read_bundle([MINI])
    text = bundle.files["mini.bpmn"]

    def problem_with(script_line: str) -> str | None:
        changed = text.replace("urgent = totaal &gt; 1000", script_line)
        return trial.run(Bundle({**bundle.files, "mini.bpmn": changed}), "mini", {}).problem

    assert problem_with("urgent = totaal / 0") == "het proces liep vast: een script deelt door nul"
    assert problem_with("urgent = onbekend") == (
        "het proces liep vast: de naam onbekend is onbekend in een script of voorwaarde"
    )
    # no Dutch sentence for this one: a general one, with the element
    assert problem_with("urgent = posten[5]") == (
        "het proces liep vast: een script, voorwaarde of stap geeft daar een fout (bij bereken)"
    )
