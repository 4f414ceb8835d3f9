"""``--fhs-tails`` of every command that simulates (analyze, what-if, advise, watch): the choice
reaches the engine — the probability shown is `analyze`'s under that choice, and the two choices
give different numbers — and a bad value is refused with one line, the same on every command."""
import json

import pytest
from typer.testing import CliRunner

from liqrisk.cli import app
from tests.builders import ETH_SHORT, TAILS_HORIZON, tails_p

runner = CliRunner()
H = TAILS_HORIZON


@pytest.fixture(scope="module")
def expected():
    """The P(4h) `analyze` gives under each choice (far apart: GPD tails reach 5 sd in 4 hours)."""
    out = {t: tails_p(t) for t in ("gpd", "empirical")}
    assert out["gpd"] > 1e3 * out["empirical"] > 0, out
    return out


@pytest.fixture(scope="module")
def eth_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tails") / "eth.json"
    path.write_text(json.dumps(ETH_SHORT))
    return str(path)


def _json(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.mark.parametrize("tails", ["gpd", "empirical"])
def test_analyze_what_if_and_advise_run_the_chosen_tails(eth_file, expected, tails):
    common = ["--paths", "2000", "--fhs-tails", tails, "--json"]
    a = _json(["analyze", eth_file, "--horizon", H, "--range-paths", "0", *common])["accounts"][0]
    assert a["probability"][H]["p"] == expected[tails]
    assert a["risk"]["model_info"]["tails"] == tails
    w = _json(["what-if", eth_file, "--horizon", H, *common])["accounts"][0]
    assert w["before"]["probability"][H] == expected[tails] and w["before"]["model"] == "fhs"
    adv = _json(["advise", eth_file, "--target", f"p({H})<=50%", *common])["accounts"][0]
    assert adv["metric"] == expected[tails] and adv["model"] == "fhs"


def test_watch_runs_the_chosen_tails(eth_file, expected, tmp_path):
    """The alert p(4h) ≥ 0.01 % fires under GPD tails (1.7e-4) and not under plain FHS (2e-13);
    the stored run says which tails ran."""
    from liqrisk.service.store import Store
    fired = {}
    for tails in ("gpd", "empirical"):
        db = f"sqlite:///{tmp_path / (tails + '.db')}"
        res = runner.invoke(app, ["watch", eth_file, "--every", "1s", "--max-checks", "1", "--paths", "2000",
                                  "--alert", f"p({H})>=0.01%", "--fhs-tails", tails, "--database-url", db])
        assert res.exit_code == 0, res.output
        fired[tails] = "ALERT" in res.stdout
        store = Store(db)
        run = next(iter(store.runs(None, None, limit=1, kind="watch")))
        assert run.options["fhs_tails"] == tails
        assert run.result["accounts"][0]["probability"][H]["p"] == expected[tails]
        store.close()
    assert fired == {"gpd": True, "empirical": False}


@pytest.mark.parametrize("args", [
    ["analyze", "EXAMPLE", "--horizon", "1d", "--json"],
    ["what-if", "EXAMPLE", "--json"],
    ["advise", "EXAMPLE", "--target", "distance>=3sd", "--json"],
    ["watch", "EXAMPLE", "--alert", "p(1d)>=1%", "--max-checks", "1"],
])
def test_an_unknown_fhs_tails_is_refused_in_one_line_by_every_command(args, eth_file):
    res = runner.invoke(app, [eth_file if a == "EXAMPLE" else a for a in args] + ["--fhs-tails", "normal"])
    assert res.exit_code == 2, res.output
    assert res.stderr == "error: --fhs-tails normal: one of gpd, empirical\n"
