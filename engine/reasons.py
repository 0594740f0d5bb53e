"""Engine errors in Dutch, for the pages of the procesbeheerder ("kan niet over", the proefrit).

The engine words its errors in English for logs and developers. A page shows the Dutch sentence of an error it
knows; for any other it shows a general Dutch sentence and writes the detail to the log, with everything
from its first quote on left out (a message may quote a value from a case).
"""

from __future__ import annotations

import logging
import re

from engine.errors import EngineError, ProcessError

log = logging.getLogger(__name__)

_KNOWN: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"task '(.+)' is not ready in this version$"),
        r"stap \1 staat er niet klaar (hernoemd, vervangen of op een andere plek?)",
    ),
    (
        re.compile(r"task '(.+)' is ready (\d+) times in this version, none the recorded one$"),
        r"stap \1 staat er \2 keer klaar en geen daarvan is de afgeronde",
    ),
    (re.compile(r"task (\S+) is [A-Z_]+$"), r"taak \1 staat er niet klaar"),
    (re.compile(r"no such user task in this case$"), "die taak bestaat er niet"),
    (re.compile(r"the case is not waiting for message '(.+)'$"), r"er wordt niet gewacht op het bericht \1"),
    (re.compile(r"the timers that fire differ from the recorded ones$"), "er verstrijken andere termijnen"),
    (re.compile(r"(?:case \S+: )?replayed timers differ from the recorded ones$"), "er verstrijken andere termijnen"),
    (re.compile(r"form (.+) is not part of this process version$"), r"formulier \1 hoort niet bij het proces"),
    (
        re.compile(r"(?:NameError: ?)?name '(\w+)' is not defined.*$"),
        r"de naam \1 is onbekend in een script of voorwaarde",
    ),
    (
        re.compile(r"(?:ZeroDivisionError: ?)?(?:integer )?division (?:or modulo )?by zero$"),
        "een script deelt door nul",
    ),
    (re.compile(r"case data cannot be stored: .*$"), "de gegevens van de zaak zijn niet als JSON op te slaan"),
]
_EVENT = re.compile(r"^event (\d+) \((\w+)\)(?: does not apply)?: (.*)$", re.DOTALL)
EVENT_KINDS = {
    "task_completed": "een afgeronde taak",
    "message_delivered": "een ontvangen bericht",
    "timers_fired": "verstreken termijnen",
}
_FROM_FIRST_QUOTE = re.compile(r"['\"].*$")  # a quote may open a value: from there on nothing is logged
UNKNOWN = "een script, voorwaarde of stap geeft daar een fout"


def known(message: str) -> str | None:
    """The Dutch sentence for an engine message this module knows, else None."""
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, replacement in _KNOWN:
        if pattern.match(first_line):
            return pattern.sub(replacement, first_line)
    return None


def in_dutch(error: EngineError, *, context: str, unknown: str = UNKNOWN) -> str:
    """What went wrong, in Dutch; an unknown error is ``unknown`` on the page and logged under ``context``
    (no case data: values masked)."""
    sentence = known(str(error))
    if sentence is not None:
        return sentence
    element = error.element if isinstance(error, ProcessError) else ""
    log.warning(
        "%s: %s%s: %s",
        context,
        type(error).__name__,
        f" at element {element}" if element else "",
        _FROM_FIRST_QUOTE.sub("'…", str(error).strip().splitlines()[0] if str(error).strip() else ""),
    )
    return f"{unknown} (bij {element})" if element else unknown


def why_not_rebuilt(error: EngineError, *, case_id: int) -> str:
    """Why a case's recorded steps do not apply to another version (engine/replay.py ``rebuild_on``), in Dutch."""
    found = _EVENT.match(str(error))
    if found is None:
        detail = in_dutch(error, context=f"case {case_id}: start on the new version")
        return f"de start van de zaak past niet op de nieuwe versie: {detail}"
    seq, kind, rest = found.groups()
    detail = in_dutch(ProcessError(rest), context=f"case {case_id}: event {seq} ({kind}) on the new version")
    return f"gebeurtenis {seq} ({EVENT_KINDS.get(kind, kind)}) past niet op de nieuwe versie: {detail}"
