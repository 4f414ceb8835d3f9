"""Benchmark liqrisk.pricing against the strongest peers in the same run; prints markdown tables.

    .venv/bin/python benchmarks/bench_pricing.py [--n 1000000] [--n-iv 100000]

Price + five Greeks for N options: liqrisk (one fused numba pass, all threads and one thread)
against a lean NumPy + ``scipy.special.ndtr`` version written to be fast (shared d1/d2/density,
fused expressions, in-place operations, run on cache-sized blocks) and QuantLib's BlackCalculator (a Python loop over a
subsample, per-option time scaled up). Implied vol for N_IV options: liqrisk against lbriv
(a Cython port of Jäckel's "Let's Be Rational", batch call ``compute_trades_greeks``, which
also returns delta, gamma and vega), QuantLib's ``blackFormulaImpliedStdDev`` and a scipy
``brentq`` loop on subsamples. Accuracy in the same run: every price against 60-digit mpmath on
a subsample, and the implied-vol round trip. Times are the best of several repeats after a
warm-up call (numba compiled, caches hot).
"""

import argparse
import math

import numba
import numpy as np
import QuantLib as ql
from scipy.special import ndtr

from liqrisk import pricing
from liqrisk.pricing import kernels, reference
from timing import best_time

N_PEER = 2_000
N_QL = 20_000
N_MP = 2_000
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def options(n, seed=0):
    """Crypto-like book: spot 60k, ln(K/S) ±1, T 1 hour–3 years, vol 5%–300%."""
    rng = np.random.default_rng(seed)
    return dict(S=np.full(n, 60_000.0), K=60_000.0 * np.exp(rng.uniform(-1.0, 1.0, n)),
                T=np.exp(rng.uniform(math.log(1 / 8760), math.log(3.0), n)), r=np.full(n, 0.03),
                vol=rng.uniform(0.05, 3.0, n), is_call=rng.integers(0, 2, n).astype(bool),
                q=np.full(n, 0.01))


def lean_numpy(S, K, T, r, q, vol, is_call):
    """Price + 5 Greeks in NumPy written for speed: d1, d2, the density and the discounted
    legs computed once, products fused, temporaries reused in place."""
    w = np.where(is_call, 1.0, -1.0)
    sqrt_t = np.sqrt(T)
    sd = vol * sqrt_t
    disc_r, disc_q = np.exp(-r * T), np.exp(-q * T)
    d1 = np.log(S / K)
    d1 += (r - q) * T
    d1 /= sd
    d1 += 0.5 * sd
    d2 = d1 - sd
    pdf = d1 * d1
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    pdf *= INV_SQRT_2PI
    d1 *= w
    d2 *= w
    spot_leg = S * disc_q
    strike_leg = K * disc_r
    n1, n2 = ndtr(d1, out=d1), ndtr(d2, out=d2)
    delta = w * disc_q * n1
    spot_leg *= n1
    strike_leg *= n2
    price = w * (spot_leg - strike_leg)
    vega = S * disc_q * pdf * sqrt_t
    gamma = disc_q * pdf
    gamma /= S * sd
    theta = w * (q * spot_leg - r * strike_leg)
    theta -= 0.5 * vol / T * vega
    rho = w * T * strike_leg
    return price, delta, gamma, vega, theta, rho


@numba.njit(error_model="numpy")  # as the kernels: x/0 is inf, not an exception
def solver_evaluations(price, S, K, T, r, q, is_call):
    """(options solved, mean evaluations of the normalised Black price per solved option by
    liqrisk's scalar implied-vol solver, options that ``implied_vol_vec``'s vectorised pass —
    two evaluations for every option — leaves to that solver): the cost in machine-independent
    units."""
    total = solved = left = 0
    for i in range(price.size):
        forward = kernels.bsm_forward_nb(S[i], T[i], r[i], q[i])
        beta, x = kernels.normalised_otm_price_nb(price[i], forward, K[i], T[i], r[i], is_call[i])
        stdev, evaluations = kernels.normalised_implied_stdev_nb(beta, x)
        if not math.isnan(stdev):
            total += evaluations
            solved += 1
        left += not kernels._vectorised_stdev(beta, x)[1]
    return solved, total / solved, left


def lean_numpy_blocked(S, K, T, r, q, vol, is_call, block=16_384):
    """``lean_numpy`` on blocks of 16k options (the temporaries stay in cache: 1.3–1.4× faster
    than one pass over 1e6), written into one (6, n) array as liqrisk returns its rows."""
    out = np.empty((6, S.size))
    for start in range(0, S.size, block):
        part = slice(start, start + block)
        out[:, part] = lean_numpy(S[part], K[part], T[part], r[part], q[part], vol[part], is_call[part])
    return out


def quantlib_price_greeks(o):
    out = []
    for S, K, T, r, q, vol, c in zip(*(o[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call"))):
        calc = ql.BlackCalculator(ql.PlainVanillaPayoff(ql.Option.Call if c else ql.Option.Put, K),
                                  S * math.exp((r - q) * T), vol * math.sqrt(T), math.exp(-r * T))
        out.append((calc.value(), calc.delta(S), calc.gamma(S), calc.vega(T), calc.theta(S, T),
                    calc.rho(T)))
    return out


def quantlib_implied_vol(price, forward, strike, T, r, is_call):
    """QuantLib's Black implied stdev / √T; NaN where QuantLib raises (no solution found)."""
    try:
        return ql.blackFormulaImpliedStdDev(ql.Option.Call if is_call else ql.Option.Put, strike,
                                            forward, price, math.exp(-r * T), 0.0,
                                            0.5 * math.sqrt(T), 1e-12, 100) / math.sqrt(T)
    except RuntimeError:
        return math.nan


def lbriv_implied_vol(lbriv, price, o):
    """lbriv's batch Let's-Be-Rational solver on undiscounted prices (total vol → / √T)."""
    n = price.size
    forward = o["S"] * np.exp((o["r"] - o["q"]) * o["T"])
    undiscounted = price * np.exp(o["r"] * o["T"])
    out = [np.empty(n) for _ in range(4)]
    lbriv.compute_trades_greeks(undiscounted, forward, np.ascontiguousarray(o["K"]),
                                o["is_call"].astype(np.int8), np.ones(n), *out)
    return out[0] / np.sqrt(o["T"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--n-iv", type=int, default=100_000)
    a = parser.parse_args()
    rows = []
    threads = numba.get_num_threads()
    book = options(a.n)
    args = (book["S"], book["K"], book["T"], book["r"], book["vol"], book["is_call"])
    for label, n_threads in ((f"liqrisk `greeks` ({threads} threads)", threads),
                             ("liqrisk `greeks`, 1 thread", 1)):
        numba.set_num_threads(n_threads)
        rows.append(("price + 5 Greeks", label, a.n,
                     best_time(lambda: pricing.greeks(*args, q=book["q"]), 5)))
    numba.set_num_threads(threads)
    lean_args = (book["S"], book["K"], book["T"], book["r"], book["q"], book["vol"], book["is_call"])
    rows.append(("price + 5 Greeks", "**peer**: lean NumPy + scipy.special.ndtr, 16k blocks", a.n,
                 best_time(lambda: lean_numpy_blocked(*lean_args), 5)))
    rows.append(("price + 5 Greeks", "lean NumPy + scipy.special.ndtr, one pass", a.n,
                 best_time(lambda: lean_numpy(*lean_args), 5)))
    sub = {k: v[:N_QL] for k, v in book.items()}
    rows.append(("price + 5 Greeks", "**peer**: QuantLib BlackCalculator loop", N_QL,
                 best_time(lambda: quantlib_price_greeks(sub), 1)))

    ivbook = options(a.n_iv, seed=1)
    iv_args = (ivbook["S"], ivbook["K"], ivbook["T"], ivbook["r"], ivbook["is_call"])
    price = pricing.black_scholes(*iv_args[:4], ivbook["vol"], ivbook["is_call"], q=ivbook["q"])
    iv = pricing.implied_vol(price, *iv_args, q=ivbook["q"])
    rows.append(("implied vol", f"liqrisk `implied_vol` ({threads} threads)", a.n_iv,
                 best_time(lambda: pricing.implied_vol(price, *iv_args, q=ivbook["q"]), 5)))
    numba.set_num_threads(1)
    rows.append(("implied vol", "liqrisk `implied_vol`, 1 thread", a.n_iv,
                 best_time(lambda: pricing.implied_vol(price, *iv_args, q=ivbook["q"]), 5)))
    numba.set_num_threads(threads)
    try:
        import lbriv
    except ImportError:
        lbriv = None
    if lbriv is not None:
        iv_lbr = lbriv_implied_vol(lbriv, price, ivbook)
        rows.append(("implied vol", "**peer**: lbriv (Let's Be Rational, Cython; + delta, gamma, vega)",
                     a.n_iv, best_time(lambda: lbriv_implied_vol(lbriv, price, ivbook), 5)))
    small = {k: v[:N_PEER] for k, v in ivbook.items()}
    forward = small["S"] * np.exp((small["r"] - small["q"]) * small["T"])
    rows.append(("implied vol", "**peer**: QuantLib blackFormulaImpliedStdDev loop", N_PEER,
                 best_time(lambda: [quantlib_implied_vol(*row) for row in zip(
                     price[:N_PEER], forward, small["K"], small["T"], small["r"], small["is_call"])], 1)))
    rows.append(("implied vol", "**peer**: scipy brentq loop (liqrisk reference)", N_PEER,
                 best_time(lambda: reference.implied_vol(price[:N_PEER], small["S"], small["K"], small["T"],
                                                         small["r"], small["is_call"], q=small["q"]), 1)))

    print("| task | implementation | options | time [ms] | per option [µs] |")
    print("|---|---|---:|---:|---:|")
    for task, label, n, seconds in rows:
        print(f"| {task} | {label} | {n:,} | {seconds * 1e3:.1f} | {seconds / n * 1e6:.3f} |")

    mp_sub = {k: v[:N_MP] for k, v in book.items()}
    truth = np.array([reference.price_greeks_60_digits(S, K, T, r, vol, c, q=q)[0] for S, K, T, r, q, vol, c
                      in zip(*(mp_sub[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call")))])
    priced = truth > 1e-6 * mp_sub["S"]
    ours = pricing.greeks(*(mp_sub[k] for k in ("S", "K", "T", "r", "vol", "is_call")), q=mp_sub["q"])["price"]
    lean = lean_numpy(*(mp_sub[k] for k in ("S", "K", "T", "r", "q", "vol", "is_call")))[0]
    qlp = np.array([v[0] for v in quantlib_price_greeks(mp_sub)])
    print(f"\nprice vs 60-digit mpmath, {priced.sum():,} of {N_MP:,} options with price > 1e-6·S, max "
          "relative error: " + ", ".join(f"{name} {np.max(np.abs(p - truth)[priced] / truth[priced]):.1e}"
                                         for name, p in (("liqrisk", ours), ("lean NumPy", lean),
                                                         ("QuantLib", qlp))))
    fwd = ivbook["S"] * np.exp((ivbook["r"] - ivbook["q"]) * ivbook["T"])
    intrinsic = np.exp(-ivbook["r"] * ivbook["T"]) * np.maximum(
        np.where(ivbook["is_call"], fwd - ivbook["K"], ivbook["K"] - fwd), 0.0)
    resolved = price - intrinsic > 1e-8 * ivbook["S"]
    otm = resolved & (intrinsic == 0)
    solved, evaluations, left = solver_evaluations(
        price, *(ivbook[k] for k in ("S", "K", "T", "r", "q", "is_call")))
    print(f"implied vol: the vectorised pass evaluates the normalised Black price twice for each of the "
          f"{a.n_iv:,} options (plus one normal CDF at the inflection point) and leaves {left:,} of the "
          f"{solved:,} solved ({left / solved:.2%}) to the scalar solver, which takes {evaluations:.2f} "
          "evaluations per option on average")
    print(f"implied vol round trip, {resolved.sum():,} of {a.n_iv:,} options with time value > 1e-8·S: "
          f"max |iv − vol| liqrisk {np.abs(iv - ivbook['vol'])[resolved].max():.1e} "
          f"(out of the money {np.abs(iv - ivbook['vol'])[otm].max():.1e}), NaN {np.isnan(iv[resolved]).sum()}"
          + ("" if lbriv is None else
             f"; lbriv {np.nanmax(np.abs(iv_lbr - ivbook['vol'])[resolved]):.1e} "
             f"(out of the money {np.nanmax(np.abs(iv_lbr - ivbook['vol'])[otm]):.1e})"))


if __name__ == "__main__":
    main()
