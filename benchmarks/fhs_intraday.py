"""Daily-filter vs hourly-filter fhs at 1 h, 4 h (and 24 h: ``--horizons 24``) against the bundled hourly BTC
(docs/calibration.md §4).

Data: btcusd_1h_coinbase.csv (Coinbase BTC-USD, 2017-07-01 → 2019-10-17). **Selection** period:
hourly closes before 2019-01-01 — both filters are fitted there, and every choice (hourly filter
or not, de-seasonalised or not) was made on it. **Held out**: the closes from 2019-01-01 (6,950
hours), used for nothing but the numbers below.

Filters (the product's construction, :func:`liqrisk.dynamics.fhs.fhs_model`, GPD tails):
* ``daily`` — GJR-GARCH(1,1)-t on the bundled Bitstamp daily closes before the split; a horizon
  of H hours is one step of the day's variance × H/24 with the Brownian bridge inside;
* ``hourly`` — the same on the Coinbase hourly closes before the split; H hourly steps;
* ``hourly-seasonal`` — hourly returns divided by their hour-of-day sd (selection period)
  before the fit; the window's variance × the mean squared seasonal factor of its hours.

Events, at every hourly close t: the largest move over the next H bars (up ``ln(max high/close)``,
down ``−ln(min low/close)``) ≥ k·s_t, s_t = EWMA daily sd (λ 0.94, complete days before t's day)
× √(H/24) (:func:`liqrisk.risk.calibration.daily_scale`, as benchmarks/fhs_tails_4h.py).

A. **Market level** (what ``analyze`` runs with the bundled history: the level is the market
   block's vol): each model starts at s_t's level, so its probability of k·s_t is one number per
   k; against the held-out frequency (± √count / n, the windows overlap).
B. **The filter's own level** (``--vol-from`` a file ending at t): each filter's current variance
   at t (filtered forward with the selection-period parameters, causal); probabilities for
   k = 2 … 6 both sides, pooled into Brier, log score, ECE and the reliability table
   (:mod:`liqrisk.risk.scores`).

C. **Paired differences** (B's forecasts): per forecast the hourly filter's loss minus the daily
   filter's (log score, Brier), averaged per UTC day of the window's start, with a Newey–West
   standard error over those day means (lag ⌈H/24⌉ + 1: windows starting on neighbouring days
   overlap) — negative favours the hourly filter.

Monte Carlo tables (:func:`liqrisk.risk.calibration.hit_probabilities`): per filter a grid of
starting variances × standardised barriers, interpolated. Run:
``PYTHONPATH=src python benchmarks/fhs_intraday.py [--paths N] [--horizons 1,4] [--json out.json]``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

from liqrisk.dynamics.fhs import DAY, HOUR, _daily_closes, _hourly_closes, fhs_model, filtered_history
from liqrisk.dynamics.ohlc import bundled_data_path, load_ohlc
from liqrisk.risk.calibration import daily_scale, gjr_filter, hit_probabilities, window_moves
from liqrisk.risk.scores import LOG_FLOOR, score

SPLIT = np.datetime64("2019-01-01")
HORIZONS = (1, 4)
KS_A = (4, 5, 6)
KS_B = (2, 3, 4, 5, 6)
D_GRID = np.linspace(0.25, 14.0, 56)
"""Standardised barriers d = b / √(step variance · H) of the tables."""
H_GRID = np.exp(np.linspace(np.log(0.15), np.log(3.0), 9)) ** 2 / 8760
"""Hourly starting variances of the hourly tables (15 % … 300 % annualised)."""


def data():
    o = load_ohlc(bundled_data_path("btcusd_1h_coinbase.csv"))
    return o, o.timestamps.astype("datetime64[h]")


def seasonal_factors(o, hours) -> np.ndarray:
    """f_h² per hour of day (mean 1): the selection period's mean squared hourly return by the
    return's hour, over the mean."""
    r = np.diff(np.log(o.close))
    hod = hours[1:].astype(np.int64) % 24
    sel = hours[1:] < SPLIT
    prof = np.array([np.mean(r[sel & (hod == h)] ** 2) for h in range(24)])
    return prof / prof.mean()


def histories(o, hours, f2):
    """The three filters' histories, fitted on the selection period only."""
    bit = load_ohlc(bundled_data_path("btc_eth_usd_1d_bitstamp.csv"), "btc")
    days, dclose = _daily_closes(bit)
    keep = days < SPLIT
    daily = filtered_history(days[keep], dclose[keep], "Bitstamp daily before 2019")
    hh, hc = _hourly_closes(o)
    sel = hh < SPLIT
    hourly = filtered_history(hh[sel], hc[sel], "Coinbase hourly before 2019", HOUR)
    r = np.diff(np.log(hc[sel]))
    z = r / np.sqrt(f2[hh[sel][1:].astype(np.int64) % 24])
    seasonal = filtered_history(hh[sel], hc[sel][0] * np.exp(np.r_[0.0, np.cumsum(z)]),
                                "Coinbase hourly before 2019, de-seasonalised", HOUR)
    return {"daily": daily, "hourly": hourly, "hourly-seasonal": seasonal}, (days, dclose)


def model_of(h):
    """(the product's model of history ``h``, c): the model's variance is c × the filter's
    (hourly: shocks in the filter's units, :func:`liqrisk.dynamics.fhs.fhs_model`; daily: 1)."""
    setup = fhs_model(["BTC"], np.array([0.6]), {"BTC": h}, np.eye(1))
    return setup.model, setup.info["assets"]["BTC"].get("shock_sd", 1.0) ** 2


def table(mc, bar: float, horizon: int, n_paths: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid, down, up): P(max move ≥ d·√(H·step variance)) on (the filter's starting variance
    grid, D_GRID) of ``mc`` = :func:`model_of`'s (model, c). The daily model's one step scales
    exactly with its variance: one grid row, at any variance."""
    model, c = mc
    dt = horizon * HOUR / (365 * DAY) if bar == DAY else HOUR / (365 * DAY)
    n_steps = 1 if bar == DAY else horizon
    grid = np.array([0.03 ** 2]) if bar == DAY else H_GRID
    down, up = np.empty((len(grid), len(D_GRID))), np.empty((len(grid), len(D_GRID)))
    for i, h0 in enumerate(grid):
        m = replace(model, volatility=replace(model.volatility, h0=np.array([c * h0])))
        sd = np.sqrt(h0 * (horizon / 24 if bar == DAY else horizon))
        bounds = [(-d * sd, np.inf) for d in D_GRID] + [(-np.inf, d * sd) for d in D_GRID]
        p = np.array(hit_probabilities(m, n_steps, dt, bounds, n_paths, (seed, horizon, i)))
        down[i], up[i] = p[:len(D_GRID)], p[len(D_GRID):]
    return grid, down, up


def lookup(grid, tab, h0, d) -> np.ndarray:
    """Bilinear in (log starting variance, d) of log P (P floored at 1e-12)."""
    lt = np.log(np.maximum(tab, 1e-12))
    h0 = np.broadcast_to(h0, np.shape(d))
    if len(grid) == 1:
        return np.exp(np.interp(d, D_GRID, lt[0]))
    x = np.clip(np.log(h0), np.log(grid[0]), np.log(grid[-1]))
    j = np.clip(np.searchsorted(np.log(grid), x) - 1, 0, len(grid) - 2)
    w = (x - np.log(grid[j])) / (np.log(grid[j + 1]) - np.log(grid[j]))
    a = np.array([np.interp(dd, D_GRID, lt[jj]) for dd, jj in zip(np.ravel(d), np.ravel(j))]).reshape(np.shape(d))
    b = np.array([np.interp(dd, D_GRID, lt[jj + 1]) for dd, jj in zip(np.ravel(d), np.ravel(j))]).reshape(np.shape(d))
    return np.exp((1 - w) * a + w * b)


def states(o, hours, hist, f2, daily_data):
    """Per hourly close t the variance of the next step of each filter, causal: hourly filters
    after the return ending at t; the daily filter's forecast for t's day (days before it)."""
    r = np.diff(np.log(o.close))
    out = {}
    for name in ("hourly", "hourly-seasonal"):
        h = hist[name]
        x = r if name == "hourly" else r / np.sqrt(f2[hours[1:].astype(np.int64) % 24])
        v = gjr_filter(h.params, x, float(np.var(x[:720])))
        out[name] = np.r_[np.nan, v]                    # out[t]: the variance of bar t+1
    days, close = daily_data
    dr = np.diff(np.log(close)) / np.sqrt(np.diff(days.astype(np.int64)))
    hd = gjr_filter(hist["daily"].params, dr, float(np.var(dr[:30])))   # hd[i]: variance of day days[i+2]
    bar_day = o.timestamps.astype("datetime64[D]")
    i = np.searchsorted(days, bar_day) - 2              # the forecast made at the close of the day before
    out["daily"] = np.where(i >= 0, hd[np.clip(i, 0, len(hd) - 1)], np.nan)
    return out


def paired_difference(pa, pb, o, day, lag: int) -> tuple[float, float]:
    """(mean, Newey–West se) of the per-day means of the log-score and Brier loss of forecasts
    ``pa`` minus ``pb`` of outcomes ``o`` (``day``: each forecast's day index): returns
    ((log mean, log se), (Brier mean, Brier se))."""
    def losses(p):
        q = np.clip(p, LOG_FLOOR, 1 - LOG_FLOOR)
        return -(o * np.log(q) + (1 - o) * np.log(1 - q)), (p - o) ** 2
    out = []
    for la, lb in zip(losses(pa), losses(pb)):
        _, inv = np.unique(day, return_inverse=True)
        d = np.bincount(inv, la - lb) / np.bincount(inv)
        n, x = len(d), d - d.mean()
        v = x @ x / n
        for j in range(1, lag + 1):
            v += 2 * (1 - j / (lag + 1)) * (x[j:] @ x[:-j]) / n
        out.append((float(d.mean()), float(np.sqrt(v / n))))
    return out


def run(n_paths: int = 200_000, seed: int = 0, horizons=HORIZONS):
    t0 = time.perf_counter()
    o, hours = data()
    f2 = seasonal_factors(o, hours)
    hist, daily_data = histories(o, hours, f2)
    st = states(o, hours, hist, f2, daily_data)
    s_day = daily_scale(o)
    hod = hours.astype(np.int64) % 24
    res = {"fits": {n: {"params": h.params, "converged": h.converged, "n": int(len(h.resid)),
                        "persistence": h.params["alpha"] + h.params["beta"] + h.params.get("gamma", 0) / 2}
                    for n, h in hist.items()},
           "seasonal_f2": f2.round(3).tolist(), "A": {}, "B": {}}
    day = hours.astype("datetime64[D]").astype(np.int64)
    for H in horizons:
        up, dn = window_moves(o, H)
        ok = np.isfinite(up) & np.isfinite(s_day) & np.isfinite(st["daily"]) & (np.arange(len(o)) >= 720)
        s = s_day * np.sqrt(H / 24)
        # the window's mean squared seasonal factor (the hours of bars t+1 … t+H)
        m = np.mean([f2[(hod + j) % 24] for j in range(1, H + 1)], axis=0)
        tabs = {n: table(model_of(h), h.bar, H, n_paths, seed) for n, h in hist.items()}
        for period, sel in (("selection", ok & (hours < SPLIT)), ("held out", ok & (hours >= SPLIT))):
            n = int(sel.sum())
            rowsA = []
            for k in KS_A:
                for side, mv in (("up", up), ("down", dn)):
                    c = int(np.sum(mv[sel] >= k * s[sel]))
                    row = {"k": k, "side": side, "n": n, "count": c, "freq": c / n, "se": np.sqrt(c) / n}
                    for name, (grid, tdn, tup) in tabs.items():
                        tab = tdn if side == "down" else tup
                        h_rep = float(np.median(s_day[sel] ** 2)) / 24
                        if name == "hourly-seasonal":     # market level × the window's seasonal factor
                            p = lookup(grid, tab, h_rep * m[sel], k / np.sqrt(m[sel])).mean()
                        else:
                            p = float(lookup(grid, tab, np.array([h_rep]), np.array([float(k)]))[0])
                        row[name] = float(p)
                    rowsA.append(row)
            res["A"][f"{H}h {period}"] = rowsA
            preds, outs, tails = {n: [] for n in hist}, [], []
            for k in KS_B:
                for side, mv in (("up", up), ("down", dn)):
                    outs.append((mv[sel] >= k * s[sel]).astype(float))
                    tails.append({"k": k, "side": side, "freq": float(outs[-1].mean()),
                                  "se": float(np.sqrt(outs[-1].sum()) / len(outs[-1]))})
                    for name, (grid, tdn, tup) in tabs.items():
                        tab = tdn if side == "down" else tup
                        v = st[name][sel]
                        if name == "daily":
                            p = lookup(grid, tab, v, k * s[sel] / np.sqrt(v * H / 24))
                        elif name == "hourly":
                            p = lookup(grid, tab, v, k * s[sel] / np.sqrt(v * H))
                        else:
                            p = lookup(grid, tab, v * m[sel], k * s[sel] / np.sqrt(v * m[sel] * H))
                        preds[name].append(p)
                        tails[-1][name] = float(np.mean(p))
            o_all = np.concatenate(outs)
            d_all = np.tile(day[sel], len(outs))
            (lm, ls), (bm, bs) = paired_difference(np.concatenate(preds["hourly"]), np.concatenate(preds["daily"]),
                                                   o_all, d_all, -(-H // 24) + 1)
            res["B"][f"{H}h {period}"] = {name: score(np.concatenate(p), o_all).to_dict()
                                          for name, p in preds.items()} | {"n": int(len(o_all)),
                                                                           "events": int(o_all.sum()),
                                                                           "tails": tails,
                                                                           "hourly-daily": {"log": [lm, ls],
                                                                                            "brier": [bm, bs],
                                                                                            "days": int(len(np.unique(day[sel])))}}
    res["seconds"] = time.perf_counter() - t0
    return res


def _fmt(x: float) -> str:
    return f"{x:.2e}"


def report(res) -> str:
    lines = []
    for name, f in res["fits"].items():
        p = f["params"]
        lines.append(f"{name}: {f['n']} returns, ω {p['omega']:.3g} α {p['alpha']:.4f} γ {p['gamma']:.4f} "
                     f"β {p['beta']:.4f} ν {p['nu']:.2f} persistence {f['persistence']:.5f} "
                     f"converged {f['converged']}")
    lines.append(f"seasonal f² by hour (UTC, return ending at that hour): {res['seasonal_f2']}")
    for key, rows in res["A"].items():
        lines += ["", f"A. market level, {key} ({rows[0]['n']} windows)",
                  "| k | side | empirical (± se) | daily filter | hourly filter | hourly de-seasonalised |",
                  "|---:|---|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['k']} | {r['side']} | {_fmt(r['freq'])} (± {r['se']:.1e}, {r['count']}) | "
                         f"{_fmt(r['daily'])} | {_fmt(r['hourly'])} | {_fmt(r['hourly-seasonal'])} |")
    for key, b in res["B"].items():
        lines += ["", f"B. filter's own level, {key}: {b['n']} forecasts, {b['events']} events",
                  "| filter | Brier | REL | log score | ECE |", "|---|---:|---:|---:|---:|"]
        for name in res["fits"]:
            sc = b[name]
            lines.append(f"| {name} | {sc['brier']:.5f} | {sc['reliability']:.5f} | {sc['log_score']:.4f} | "
                         f"{sc['ece']:.4f} |")
        d = b["hourly-daily"]
        lines.append(f"\nhourly − daily, per-day means over {d['days']} days (Newey–West se): log score "
                     f"{d['log'][0]:+.5f} ± {d['log'][1]:.5f}, Brier {d['brier'][0]:+.6f} ± {d['brier'][1]:.6f}")
        lines += ["", "| k | side | realised (± se) | " + " | ".join(f"{n} mean predicted" for n in res["fits"]) + " |",
                  "|---:|---|---:|" + "---:|" * len(res["fits"])]
        lines += [f"| {t['k']} | {t['side']} | {_fmt(t['freq'])} (± {t['se']:.1e}) | "
                  + " | ".join(_fmt(t[n]) for n in res["fits"]) + " |" for t in b["tails"]]
        lines += ["", "| bucket | " + " | ".join(f"{n} n / pred / real" for n in res["fits"]) + " |",
                  "|---|" + "---:|" * len(res["fits"])]
        rel = {n: b[n]["table"] for n in res["fits"]}
        for i, row in enumerate(rel["daily"]):
            cells = []
            for n in res["fits"]:
                q = rel[n][i]
                cells.append(f"{q['count']} / {q['predicted']:.2g} / {q['realised']:.2g}"
                             if q["count"] else "0")
            lines.append(f"| [{row['lo']:g}, {row['hi']:g}) | " + " | ".join(cells) + " |")
    lines.append(f"\n{res['seconds']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--horizons", default="1,4", help="hours, comma-separated (24: the daily-vs-hourly question at 1 d)")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = run(a.paths, a.seed, tuple(int(h) for h in a.horizons.split(",")))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
    print(report(out))
