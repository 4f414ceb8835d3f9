"""analyze's progress bar is the shared one (cli/progress.py): shown for a terminal run with a
horizon, fed the paths done, and quiet for --json and for runs without a horizon."""
import contextlib

from typer.testing import CliRunner

import liqrisk.cli.analyze as cli_analyze
from liqrisk.cli import app

runner = CliRunner()
EXAMPLE = "examples/multi_venue.yaml"


def _record(monkeypatch):
    seen = []

    @contextlib.contextmanager
    def bar(label, quiet=False):
        ticks = []
        seen.append((label, quiet, ticks))
        yield lambda done, total: ticks.append((done, total))

    monkeypatch.setattr(cli_analyze, "progress_bar", bar)
    return seen


def test_a_terminal_run_with_a_horizon_feeds_the_bar(monkeypatch):
    seen = _record(monkeypatch)
    res = runner.invoke(app, ["analyze", EXAMPLE, "--horizon", "1d", "--paths", "2000", "--range-paths", "0"])
    assert res.exit_code == 0, res.output
    (label, quiet, ticks), = seen
    assert label == "simulating" and not quiet
    assert ticks and ticks[-1][0] == ticks[-1][1] > 0          # the last tick is the whole run


def test_json_and_margin_only_runs_are_quiet(monkeypatch):
    seen = _record(monkeypatch)
    assert runner.invoke(app, ["analyze", EXAMPLE, "--horizon", "1d", "--paths", "2000", "--json"]).exit_code == 0
    assert runner.invoke(app, ["analyze", EXAMPLE]).exit_code == 0
    assert [q for _, q, _ in seen] == [True, True]
