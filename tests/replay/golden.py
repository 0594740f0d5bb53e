"""Golden histories (issue 6; reliability-scenarios P1/P2): recorded case histories, as JSON, that CI re-executes
against the current engine. Each file holds a case's events with their plaintext payloads, every state hash and
chain hash, and names its process bundle, which is stored once per content hash under ``bundles/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HISTORIES = HERE / "histories"
BUNDLES = HERE / "bundles"
FORMAT = 1


@dataclass(frozen=True)
class GoldenEvent:
    """One recorded event, shaped like the rows engine.replay and engine.history read."""

    seq: int
    type: str
    actor: str
    actor_role: str
    occurred_at: datetime
    payload: dict[str, Any]
    payload_hash: str | None
    state_hash: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class GoldenHistory:
    name: str
    reference: str
    process_key: str
    content_hash: str
    events: list[GoldenEvent]
    final_hash: str

    def bundle_files(self) -> dict[str, str]:
        files: dict[str, str] = json.loads((BUNDLES / f"{self.content_hash}.json").read_text(encoding="utf-8"))
        return files


def load(path: Path) -> GoldenHistory:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path.name}: golden format {raw.get('format')!r}, this test reads {FORMAT}")
    events = [
        GoldenEvent(**{**event, "occurred_at": datetime.fromisoformat(event["occurred_at"])}) for event in raw["events"]
    ]
    return GoldenHistory(
        raw["name"], raw["reference"], raw["process_key"], raw["content_hash"], events, raw["final_hash"]
    )


def histories() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))
