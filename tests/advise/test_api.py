"""The Python API: liqrisk.what_if / advise / hedge_backtest, lazily imported, results with to_dict."""
import json
import subprocess
import sys
from pathlib import Path

DEMO = str(Path(__file__).resolve().parents[2] / "examples/multi_venue.yaml")


def test_api_names_are_lazy_and_work():
    code = ("import sys, liqrisk; assert 'liqrisk.advise.whatif' not in sys.modules; "
            "r = liqrisk.what_if(sys.argv[1], shock={'BTC': -0.05}, exit=False); import json; json.dumps(r.to_dict()); "
            "a = liqrisk.advise(sys.argv[1], 'distance>=2sd', accounts=['bybit-uta']); json.dumps(a.to_dict()); "
            "import liqrisk.advise.hedging as h; "
            "b = liqrisk.hedge_backtest(h.HedgeSpec(spot=100, strike=100, expiry_days=10, vol=0.5, rebalances=10), paths=500); "
            "print(json.dumps({'pnl_std': b.to_dict()['pnl_std'], 'n': len(a.accounts)}))")
    out = subprocess.run([sys.executable, "-c", code, DEMO], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["n"] == 1 and d["pnl_std"] > 0
