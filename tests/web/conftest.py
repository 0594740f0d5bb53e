from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cache
from engine.clock import FrozenClock
from tests.websupport import START, Site, build_seeded_database, copy_database, make_app


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    return path, build_seeded_database(path)


@pytest.fixture
def site(seeded_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Site]:
    template, cases = seeded_template
    clock = FrozenClock(START.replace(hour=15))
    app = make_app(copy_database(template, tmp_path / "site.db"), clock)
    cache.clear()
    yield Site(app, clock, cases)
    app.extensions["regeling.db"].engine.dispose()
    cache.clear()
