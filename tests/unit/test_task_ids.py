"""Task guids are name-based (RFC 4122 version 5) on the step's seed: a replay rebuilds the very same ones,
so the guids recorded in events and in the inbox index must never change their definition."""

from __future__ import annotations

from uuid import uuid5

from engine import runtime


def test_a_steps_task_guids_are_the_uuid5_of_its_seed_and_counter() -> None:
    seed = "BV-2026-0001:" + "0" * 64
    step = runtime._Step(seed, 0.0)
    made = [step.next_id() for _ in range(3)]
    expected = [uuid5(runtime._ID_NAMESPACE, f"{seed}#{number}") for number in (1, 2, 3)]
    assert made == expected
    assert [str(guid) for guid in made] == [str(guid) for guid in expected]
    assert [hash(guid) for guid in made] == [hash(guid) for guid in expected]  # dict lookups by either agree


def test_a_guid_from_a_name_with_any_characters_is_its_uuid5() -> None:
    for name in ("a", "é ü 漢#7"):
        assert runtime._TaskId.from_name(name) == uuid5(runtime._ID_NAMESPACE, name)
