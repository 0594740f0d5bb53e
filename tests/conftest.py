"""Databases for the tests: a fresh SQLite file per test, and the PostgreSQL named by TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from engine import cache
from engine.clock import FrozenClock
from engine.db import make_engine, migrate
from engine.model import Base
from tests.websupport import (
    START,
    PostgresTemplate,
    SeededTemplate,
    Site,
    SqliteTemplate,
    build_seeded_database,
    make_app,
)


def _postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        pytest.fail("TEST_DATABASE_URL is not set: run `make test`, which starts PostgreSQL and sets it")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server of TEST_DATABASE_URL, for tests that make databases of their own on it."""
    return _postgres_url()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A database of its own for this test run, so runs on one server never disturb each other."""
    server = make_engine(_postgres_url()).execution_options(isolation_level="AUTOCOMMIT")
    name = f"regeling_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.url.set(database=name).render_as_string(hide_password=False))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _empty(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db")
        migrate(engine)
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("postgres_engine")
        _empty(engine)
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('db')}/test.db")
    migrate(engine)
    yield engine
    engine.dispose()


# -- log hygiene over the whole run (design: reliability-scenarios D2) ---------------------------------------------
#
# A handler on the root logger from the start of the session to its end sees every record any test, the app or a
# library logs in this process (formatted with its exception text and stack); at the end the run fails, naming the
# test and the logger, if one of them carries the synthetic personal data the tests use. The app's own loggers
# ("engine", "web") are opened to DEBUG for the run, so their quieter lines are checked too; libraries keep their
# levels (SQLAlchemy at INFO would log SQL parameters on purpose). Werkzeug's request lines (paths only) pass.

import logging  # noqa: E402 - the log-hygiene plugin is appended to this file on purpose
import sys  # noqa: E402

SYNTHETIC_PERSONAL_DATA = (
    "Synthetischestraat",
    "Demostraat",
    "bestuurder@voorbeeld.invalid",
    "demo@voorbeeld.invalid",
    "0600000000",
    "Synthetische Bestuurder",
)
APP_LOGGERS = ("engine", "web")
LOG_HYGIENE_KEY = pytest.StashKey["PersonalDataInLogs"]()


class PersonalDataInLogs(logging.Handler):
    """Collects every record's formatted text; remembers those holding synthetic personal data, and where."""

    def __init__(self, needles: tuple[str, ...] = SYNTHETIC_PERSONAL_DATA) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.needles = tuple(needle.casefold() for needle in needles)
        self.seen = 0
        self.hits: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)  # the message, exc_text and stack_info
        except Exception as error:  # a record that cannot be formatted is checked by its parts
            text = f"{record.msg!r} {record.args!r} ({type(error).__name__} while formatting)"
        self.seen += 1
        folded = text.casefold()
        if any(needle in folded for needle in self.needles):
            where = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")
            self.hits.append(f"{where}\n    {record.name} {record.levelname}: {text[:500]!r}")


def pytest_sessionstart(session: pytest.Session) -> None:
    handler = PersonalDataInLogs()
    logging.getLogger().addHandler(handler)
    previous = {name: logging.getLogger(name).level for name in APP_LOGGERS}
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    session.config.stash[LOG_HYGIENE_KEY] = handler
    session.config.add_cleanup(lambda: _remove_log_hygiene(handler, previous))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Put the handler back should an earlier test have replaced the root logger's handlers (a log set-up
    such as ``web.logs.configure_logging`` does that), so no test goes unchecked."""
    handler = item.config.stash.get(LOG_HYGIENE_KEY, None)
    root = logging.getLogger()
    if handler is not None and handler not in root.handlers:
        root.addHandler(handler)


def _remove_log_hygiene(handler: PersonalDataInLogs, previous: dict[str, int]) -> None:
    logging.getLogger().removeHandler(handler)
    for name, level in previous.items():
        logging.getLogger(name).setLevel(level)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    handler = session.config.stash.get(LOG_HYGIENE_KEY, None)
    if handler is None or not handler.hits:
        return
    lines = [
        f"LOG HYGIENE: {len(handler.hits)} of {handler.seen} log records carry synthetic personal data "
        f"(one of {', '.join(SYNTHETIC_PERSONAL_DATA)}); logs must never hold addresses, contact details or names:",
        *handler.hits[:50],
    ]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "log hygiene failed", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)  # noqa: T201 - no terminal reporter: say it anyway
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- the web app on a seeded database (tests/web, tests/unit's web fuzzing) ---------------------------------


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    return path, build_seeded_database(path)


@pytest.fixture(scope="session")
def postgres_seeded_template(postgres_url: str) -> Iterator[tuple[PostgresTemplate, dict[str, str]]]:
    """The same seeded database on PostgreSQL, made once per run; each test gets it back as seeded."""
    template = PostgresTemplate(postgres_url)
    try:
        yield template, template.cases
    finally:
        template.drop()


# tests/web runs on both databases (issue 7); elsewhere a site is SQLite only. The route × role enumeration of
# test_access (218 cases, the same pages the authorisation matrix covers) runs every POSTGRES_SAMPLE-th case on
# PostgreSQL, so the web suite does not double in time.
WEB_TESTS = Path(__file__).parent / "web"
POSTGRES_SAMPLE = {"test_access.py": 6}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "site_database" in metafunc.fixturenames and WEB_TESTS in Path(str(metafunc.definition.path)).parents:
        databases = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
        metafunc.parametrize("site_database", databases, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped, seen = [], [], dict.fromkeys(POSTGRES_SAMPLE, 0)
    for item in items:
        name = item.path.name
        callspec = getattr(item, "callspec", None)
        if (
            name in seen
            and item.path.parent == WEB_TESTS
            and callspec
            and callspec.params.get("site_database") == "postgres"
        ):
            seen[name] += 1
            if seen[name] % POSTGRES_SAMPLE[name]:
                dropped.append(item)
                continue
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def site_database(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def site(site_database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    template: SeededTemplate
    if site_database == "postgres":
        template, cases = request.getfixturevalue("postgres_seeded_template")
    else:
        path, cases = request.getfixturevalue("seeded_template")
        template = SqliteTemplate(path)
    clock = FrozenClock(START.replace(hour=15))
    url = template.copy(tmp_path)
    app = make_app(url, clock)
    cache.clear()
    yield Site(app, clock, cases, template)
    app.extensions["regeling.db"].engine.dispose()
    cache.clear()
    template.discard(url)
