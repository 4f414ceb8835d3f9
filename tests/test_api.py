"""The Python API: the README's worked example runs, `import liqrisk` is cheap and lazy, the
typed results give the CLI's JSON, strict JSON and frames; `liqrisk --version`."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import liqrisk
from liqrisk.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "multi_venue.yaml")


def _readme_api_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):text.index("## Layout")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_worked_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    blocks = _readme_api_blocks()
    assert blocks and "liqrisk.analyze(" in blocks[0]
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})


def test_import_liqrisk_loads_no_heavy_dependency_and_names_load_on_first_use():
    code = ("import sys, liqrisk; heavy = [m for m in ('numpy', 'numba', 'pandas', 'scipy', 'pydantic', "
            "'plotly', 'arch', 'dask') if m in sys.modules]; print(heavy); "
            "liqrisk.Portfolio; print('numba' in sys.modules, 'liqrisk.model' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "False True"


def test_all_names_resolve():
    assert set(liqrisk.__all__) >= {"analyze", "load_portfolio", "simulate_cascade", "Portfolio", "MarketState",
                                    "PortfolioAnalysis", "__version__"}
    for name in liqrisk.__all__:
        assert getattr(liqrisk, name) is not None
    with pytest.raises(AttributeError):
        liqrisk.no_such_name


def test_help_loads_no_heavy_dependency():
    code = ("import sys; from typer.testing import CliRunner; from liqrisk.cli import app; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
            "print([m for m in ('numpy', 'numba', 'pandas', 'scipy', 'pydantic', 'plotly', 'arch', 'dask', 'rich') "
            "if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_analyze_without_horizons_loads_only_what_margin_and_exit_cost_use():
    """numpy, numba (which itself loads scipy.linalg for its BLAS check) and pydantic are used;
    SciPy's optimisers, special functions and statistics, pandas, plotly, arch, dask and rich
    (JSON is printed without it) are not."""
    heavy = ("pandas", "plotly", "arch", "dask", "scipy.stats", "scipy.optimize", "scipy.special",
             "scipy.interpolate", "scipy.signal", "rich")
    code = ("import sys; from typer.testing import CliRunner; from liqrisk.cli import app; "
            f"r = CliRunner().invoke(app, ['analyze', {EXAMPLE!r}, '--json']); assert r.exit_code == 0, r.output; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_analyze_with_horizons_reads_bars_and_tilts_without_pandas_or_scipy_optimize(tmp_path):
    """With the FHS fit in the disk cache (the first run fits it, loading arch and so pandas), a
    run with horizons reads the bundled bars (csv, not pandas) and solves the FHS row tilt
    (Brent's method written out, not scipy.optimize) without either; no plotly, no rich on --json."""
    heavy = ("pandas", "plotly", "arch", "dask", "scipy.optimize", "scipy.stats", "scipy.interpolate", "rich")
    code = ("import sys; from typer.testing import CliRunner; from liqrisk.cli import app; "
            f"r = CliRunner().invoke(app, ['analyze', {EXAMPLE!r}, '--json', '--horizon', '1d', '--paths', '200', "
            "'--range-paths', '0']); assert r.exit_code == 0, r.output; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    env = {**os.environ, "LIQRISK_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip() == "[]"


def test_help_texts_name_every_estimator_and_calibration_model():
    from liqrisk.cli.calibration import MODEL_NAMES
    from liqrisk.cli.vol import ESTIMATOR_NAMES
    from liqrisk.dynamics.volatility import ESTIMATORS
    from liqrisk.risk.calibration import MODELS
    assert ESTIMATOR_NAMES == ", ".join(ESTIMATORS) and MODEL_NAMES == ", ".join(MODELS)


def test_version():
    out = CliRunner().invoke(app, ["--version"])
    assert out.exit_code == 0 and out.stdout.strip() == f"liqrisk {liqrisk.__version__}"


def test_api_analyze_gives_the_cli_json_document():
    cli = json.loads(CliRunner().invoke(app, ["analyze", EXAMPLE, "--json", "--horizon", "1d", "--paths", "2000",
                                              "--seed", "4"]).stdout)
    api = liqrisk.analyze(EXAMPLE, horizons=["1d"], paths=2000, seed=4)
    assert json.loads(api.to_json()) == cli


def test_api_accepts_a_path_a_dict_and_a_portfolio_with_the_same_result():
    import yaml
    raw = yaml.safe_load(Path(EXAMPLE).read_text())
    by_path = liqrisk.analyze(EXAMPLE).to_dict()
    assert liqrisk.analyze(raw).to_dict() == by_path
    assert liqrisk.analyze(liqrisk.load_portfolio(EXAMPLE)).to_dict() == by_path


def test_to_json_is_strict_and_frames_have_one_row_per_account_and_position():
    res = liqrisk.analyze(EXAMPLE)
    doc = res.to_json()
    assert "NaN" not in doc and "Infinity" not in doc
    frame = res.to_frame()
    assert list(frame.index) == [a.id for a in res.accounts]
    assert frame.loc["binance-main", "liq_down_BTC"] == res.account("binance-main").liquidation["BTC"]["down"]
    assert math.isnan(frame.loc["binance-main", "liq_up_BTC"])           # no boundary up: missing
    pos = res.account("binance-main").to_frame()
    assert list(pos["symbol"]) == ["BTCUSDT", "SOLUSDT", "ETHUSDT"]


def test_a_nan_in_a_result_becomes_null_in_json():
    from liqrisk.results import ExitResult
    e = ExitResult(float("nan"), None, None, None, None, 1.0, float("inf"), None)
    d = json.loads(e.to_json())
    assert d["close_now_cost"] is None and d["horizon_cost"] is None


def test_simulate_cascade_returns_a_typed_result_with_the_cli_document():
    scenario = ROOT / "examples" / "scenarios" / "btc_gap_15.yaml"
    accounts = ROOT / "examples" / "populations" / "small_book.csv"
    res = liqrisk.simulate_cascade(scenario, accounts)
    cli = CliRunner().invoke(app, ["cascade", str(scenario), "--accounts", str(accounts), "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(res.to_json()) == json.loads(cli.stdout)
    assert len(res.to_frame()) >= 1


def test_the_api_refuses_a_result_failing_the_output_checks(monkeypatch):
    """liqrisk.analyze runs the same output checks as the CLI and the service: a margin the model
    could not compute raises, naming the account and field, instead of returning NaN."""
    from liqrisk.io.portfolio import InputError
    from tests.builders import break_first_account
    break_first_account(monkeypatch)
    with pytest.raises(InputError, match="account 'binance-main', field 'maintenance_margin'"):
        liqrisk.analyze(EXAMPLE)
    res = CliRunner().invoke(app, ["analyze", EXAMPLE, "--json"])
    assert res.exit_code == 2 and res.stderr.startswith("error: account 'binance-main', field 'maintenance_margin'")


@pytest.mark.parametrize("call", [
    lambda doc: liqrisk.analyze(doc, ["1d"], fhs_tails="x"),
    lambda doc: liqrisk.what_if(doc, horizons=["1d"], fhs_tails="x"),
    lambda doc: liqrisk.advise(doc, "p(1d)<=1%", paths=200, fhs_tails="x"),
])
def test_a_bad_fhs_tails_is_refused_by_every_python_entry_point(call):
    """analyze, what_if and advise check fhs_tails where the probability settings are checked
    (liqrisk.analysis.probability_years): the service's line, before any simulation."""
    from liqrisk.io.portfolio import InputError
    from tests.builders import ETH_SHORT
    with pytest.raises(InputError) as e:
        call(ETH_SHORT)
    assert e.value.problems == ["fhs_tails x: one of gpd, empirical"]
