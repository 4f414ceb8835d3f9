"""How often arch flags a GJR-GARCH fit as not converged on the bundled data, and what a restart
does (docs/calibration.md §3, "GJR-GARCH fits the optimiser flags"; liqrisk.dynamics.garch).

Daily: the fhs filter's GJR(1,1)-t on the daily returns of BTC and ETH (Bitstamp), BTC Coinbase
daily and BTC hourly reduced to daily closes (``liqrisk.dynamics.fhs``): expanding windows from
250 returns and rolling 250/500/1,000-return windows, ending every ``--every`` days, and rolling
59–249-return windows every 7th day. Hourly: the hourly back-test's refit windows (every 240 h from
2,160, the last 17,520 returns), GJR-normal and GJR-t; for each flagged fit, the log-likelihood
of a restart from the stopped point, with 2,000 iterations, tol 1e-8 and from
``garch.RESTART_STARTS``, relative to the flagged fit, and what ``fit_garch`` keeps. All on one
BLAS thread (as the fhs filter fits). Run: ``PYTHONPATH=src python benchmarks/garch_convergence.py [--every 2]``
(≈ 10 min on one loaded core).
"""
import argparse
import warnings

import numpy as np
from arch import arch_model
from threadpoolctl import threadpool_limits

from liqrisk.dynamics.fhs import _daily_closes, daily_returns
from liqrisk.dynamics.garch import RESTART_STARTS, SCALE, _start, fit_garch
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc

warnings.filterwarnings("ignore")


def daily_series() -> dict:
    out = {f"bitstamp {a}": _daily_closes(load_ohlc(bundled_data_path("btc_eth_usd_1d_bitstamp.csv"), a))
           for a in ("btc", "eth")}
    for f in ("btcusd_1d_coinbase.csv", "btcusd_1h_coinbase.csv"):
        out[f] = _daily_closes(load_ohlc(bundled_data_path(f)))
    return {k: daily_returns(*v) for k, v in out.items()}


def model(x, dist):
    return arch_model(SCALE * x, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist=dist, rescale=False)


def windows(n: int, every: int):
    yield from (("expanding", 0, b) for b in range(250, n + 1, every))
    for length in (250, 500, 1000):
        yield from ((f"rolling {length}", b - length, b) for b in range(length, n + 1, every))
    for length in (59, 100, 150, 200, 249):
        yield from ((f"rolling {length}", a, a + length) for a in range(0, n - length + 1, 7))


def restarts(x, dist, flagged) -> dict:
    m, sv0 = model(x, dist), np.asarray(flagged.params, float)
    fits = {"stopped point": m.fit(disp="off", show_warning=False, starting_values=sv0),
            "maxiter 2000": m.fit(disp="off", show_warning=False, options={"maxiter": 2000}),
            "tol 1e-8": m.fit(disp="off", show_warning=False, tol=1e-8)}
    for s in RESTART_STARTS:
        fits[f"start {s}"] = m.fit(disp="off", show_warning=False, starting_values=_start(SCALE * x, "gjr", dist, *s))
    return {k: (int(f.convergence_flag), float(f.loglikelihood - flagged.loglikelihood)) for k, f in fits.items()}


def main(every: int) -> None:
    with threadpool_limits(limits=1):
        for name, r in daily_series().items():
            flags = [model(r[a:b], "t").fit(disp="off", show_warning=False).convergence_flag
                     for _, a, b in windows(len(r), every)]
            print(f"daily {name}: {len(flags)} GJR-t fits, {sum(f != 0 for f in flags)} flagged", flush=True)
        r = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv")).log_returns()
        for dist in ("normal", "t"):
            n = bad = 0
            for start in range(2160, len(r), 240):
                x = r[:start][-17520:]
                x = x[np.isfinite(x)]
                first = model(x, dist).fit(disp="off", show_warning=False)
                n += 1
                if first.convergence_flag:
                    bad += 1
                    kept = fit_garch(x, kind="gjr", dist=dist, bar_seconds=3600)
                    print(f"  hourly {dist} window ending {start}: flag {first.convergence_flag}; restarts "
                          f"(flag, loglik − flagged): {restarts(x, dist, first)}; fit_garch keeps "
                          f"+{kept.restart_gain:.4f}, converged {kept.converged}", flush=True)
            print(f"hourly GJR-{dist}: {n} fits, {bad} flagged", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=2)
    main(ap.parse_args().every)
