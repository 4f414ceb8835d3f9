"""`liqrisk watch` option checks (typer CliRunner)."""
from pathlib import Path

from typer.testing import CliRunner

from liqrisk.cli import app

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")


def test_a_negative_seed_is_refused_naming_the_flag(tmp_path):
    """Issue 9 (hand probes): ``watch --seed -1`` reached numpy at the first check: "error:
    expected non-negative integer", no flag named."""
    res = CliRunner().invoke(app, ["watch", DEMO, "--every", "1s", "--max-checks", "1", "--seed", "-1", "--alert",
                                   "p(1d)>=1%", "--database-url", f"sqlite:///{tmp_path / 'w.db'}"])
    assert res.exit_code == 2 and res.stderr == "error: --seed -1: must be ≥ 0\n", res.output
