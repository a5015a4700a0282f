"""What the command line loads: `kpibot --help` none of the heavy libraries, a KPI answer none it does
not use (the times themselves are measured by bench/startup.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from storage.db import make_engine
from storage.settings import Settings
from tests.bot.running_bot import ingest, twitter_week

ROOT = Path(__file__).parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "pydantic_settings", "numpy", "textblob", "nltk", "matplotlib", "alembic")
HEAVY += ("slack_bolt", "slack_sdk", "apscheduler", "uvicorn", "starlette")


def loaded_by(*words: str) -> list[str]:
    """The HEAVY libraries a `kpibot` run with these words imported (run in a fresh interpreter)."""
    code = (
        "import sys\nfrom bot.cli import main\nsys.argv = ['kpibot', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    run = subprocess.run([sys.executable, "-c", code, *words], capture_output=True, text=True, cwd=ROOT)
    [line] = [line for line in run.stdout.splitlines() if line.startswith("LOADED")]
    return json.loads(line.removeprefix("LOADED ").replace("'", '"'))


def test_help_and_version_load_none_of_the_heavy_libraries():
    assert loaded_by("--help") == []
    assert loaded_by("--version") == []
    assert loaded_by("digest", "--help") == []


def test_a_kpi_answer_loads_the_database_and_numbers_but_no_nlp_charts_slack_or_migrations(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    engine = make_engine(url)
    ingest(engine, Settings(database_url=url, pseudonym_key="k"), twitter_week())
    engine.dispose()

    loaded = loaded_by("kpi", "frt", "twitter", "7d", "--db", url)

    assert loaded == ["numpy", "pydantic_settings", "sqlalchemy", "sqlmodel"]
