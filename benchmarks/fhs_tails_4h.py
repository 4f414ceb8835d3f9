"""Four-hour tails of fhs, plain and GPD-tailed, against the bundled hourly BTC (docs/calibration.md §3).

Empirical: at every hourly close t of btcusd_1h_coinbase.csv with a previous complete day, the
largest move over the next 4 bars — up ``ln(max high / close_t)``, down ``−ln(min low / close_t)``
— in units of ``s = EWMA daily sd (λ 0.94, daily closes up to the previous day) × √(4/24)``;
frequency of a move ≥ k·s, k = 5, 6 (standard error √count / n; the windows overlap).

Model: fhs runs a 4-hour horizon as one step of the day's variance × 4/24 with the Brownian-bridge
correction inside it, so P(max move ≥ k sd) is exactly the one-step expectation of the kernel's
estimator: 1 beyond the level, the bridge crossing probability inside. Computed without the
Monte Carlo from the bundled BTC daily residuals (standardised as fhs_model does, BTC alone,
1,864 dates): every residual for plain FHS (tests/first_passage_grid.py:
bootstrap_first_passage), body enumerated and GPD tails integrated for the default
(semiparametric_one_step). Run: ``PYTHONPATH=src:. python benchmarks/fhs_tails_4h.py``.

This is the daily filter only, fitted on the whole bundled history; benchmarks/fhs_intraday.py
compares it with the hourly filter that now runs horizons ≤ 1 day for BTC, both fitted before
2019 and scored on the held-out 2019 hours (docs/calibration.md §4).
"""
from dataclasses import replace

import numpy as np

from liqrisk.dynamics import evt
from liqrisk.dynamics.fhs import bundled_history
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
from tests.first_passage_grid import bootstrap_first_passage, semiparametric_one_step

H, KS, LAMBDA = 4, (5, 6), 0.94


def empirical():
    o = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv"))
    days = o.timestamps.astype("datetime64[D]")
    last = np.r_[days[1:] != days[:-1], True]
    dd, dc = days[last], o.close[last]
    r = np.diff(np.log(dc))
    var, v = np.empty(len(r)), r[:30].var()
    for i, x in enumerate(r):
        v = LAMBDA * v + (1 - LAMBDA) * x * x
        var[i] = v
    sd = dict(zip(dd[1:], np.sqrt(var)))
    prev = dict(zip(dd[1:], dd[:-1]))
    n, cnt = 0, {(k, side): 0 for k in KS for side in ("up", "down")}
    for t in range(len(o.close) - H):
        p = prev.get(days[t])
        if p not in sd:
            continue
        s = sd[p] * np.sqrt(H / 24)
        up = np.log(o.high[t + 1:t + 1 + H].max() / o.close[t]) / s
        dn = -np.log(o.low[t + 1:t + 1 + H].min() / o.close[t]) / s
        n += 1
        for k in KS:
            cnt[(k, "up")] += up >= k
            cnt[(k, "down")] += dn >= k
    return n, cnt


def model(k: int, side: str, tails: bool, h0: float = 0.03 ** 2 * H / 24) -> float:
    z = bundled_history("BTC").resid
    z = (z - z.mean()) / z.std()
    sign = 1.0 if side == "down" else -1.0      # the kill is below: mirror an up move
    lo = -k * np.sqrt(h0)
    if not tails:
        return bootstrap_first_passage(sign * z, (0, 0, 0, 0, h0), lo, 1, 2 / h0)
    t = evt.semiparametric(z)
    zs = np.sort((z - t.loc) / t.scale)
    if side == "up":
        t = replace(t, k_up=t.k_lo, u_up=-t.u_lo, xi_up=t.xi_lo, beta_up=t.beta_lo,
                    k_lo=t.k_up, u_lo=-t.u_up, xi_lo=t.xi_up, beta_lo=t.beta_up)
        zs = np.sort(-zs)
    return semiparametric_one_step(zs, t, h0, lo, 2 / h0)


if __name__ == "__main__":
    n, cnt = empirical()
    print(f"{n} four-hour windows")
    print("| k | side | empirical (± se) | fhs plain | fhs GPD tails |\n|---:|---|---:|---:|---:|")
    for k in KS:
        for side in ("up", "down"):
            c = cnt[(k, side)]
            print(f"| {k} | {side} | {c / n:.2e} (± {np.sqrt(c) / n:.1e}) | {model(k, side, False):.2e} | "
                  f"{model(k, side, True):.2e} |")
