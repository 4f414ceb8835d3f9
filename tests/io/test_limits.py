"""The shared rules of io.limits that issue 9's hand probes found too loose."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app
from liqrisk.io.limits import STRESS_MAX, STRESS_MIN, stress_problem

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")
RULE = "must be in [0.001, 1000] (1 = today's book)"


def test_the_stress_range_is_one_over_the_cap_to_the_cap():
    assert (STRESS_MIN, STRESS_MAX) == (0.001, 1000.0)
    assert [stress_problem(x) for x in (0.001, 1.0, 1000.0)] == [None, None, None]
    assert {stress_problem(x) for x in (0.0, 0.00099, 1e-300, 5e-324, -1.0, 1000.5, float("nan"))} == {RULE}


@pytest.mark.parametrize("args", [["analyze", DEMO], ["exit-cost", "--position", "BTC:1:91250"]])
@pytest.mark.parametrize("stress", ["1e-300", "5e-324"])
def test_a_vanishing_stress_is_refused_naming_the_flag(args, stress):
    """``--stress 1e-300`` shrank the synthetic book's spread (× stress) to nothing: "synthetic BTC
    (sigma=0.55, stress=1): crossed book, best bid 1 >= best ask 1" named a stress of 1 and no
    flag; 5e-324 divided the depth into infinity ("bids[0] = [1.0, inf] must be finite")."""
    res = CliRunner().invoke(app, args + ["--stress", stress, "--json"])
    assert res.exit_code == 2 and res.stderr == f"error: --stress {float(stress):g}: {RULE}\n", res.output
