"""``--model`` of analyze, what-if and advise is checked when the command line is read: an unknown
name was accepted (exit 0) by runs that estimate no probability (issue 9)."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")
runner = CliRunner()


@pytest.mark.parametrize("args", [
    ["advise", EXAMPLE, "--target", "distance>=3sd", "--json"],      # no probability is estimated
    ["what-if", EXAMPLE, "--json"],                                  # no --horizon
    ["analyze", EXAMPLE, "--json"],
    ["analyze", "/nonexistent.yaml"],                                # before the file is read
])
def test_an_unknown_model_is_refused_by_every_command(args):
    res = runner.invoke(app, args + ["--model", "bogus"])
    assert res.exit_code == 2, res.output
    assert res.stderr == "error: --model 'bogus': expected auto or one of gbm, merton, student, fhs\n"


def test_a_model_alias_still_runs():
    res = runner.invoke(app, ["what-if", EXAMPLE, "--json", "--model", "student_t"])
    assert res.exit_code == 0, res.output


def test_an_unknown_fhs_tails_is_refused_in_one_line():
    res = runner.invoke(app, ["analyze", EXAMPLE, "--horizon", "1d", "--json", "--fhs-tails", "normal"])
    assert res.exit_code == 2, res.output
    assert res.stderr == "error: --fhs-tails normal: one of gpd, empirical\n"
