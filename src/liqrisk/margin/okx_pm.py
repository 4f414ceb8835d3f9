"""OKX portfolio margin: one risk unit per underlying, as a scenario pool of the one kernel.

Rule version: OKX portfolio-margin rules after the risk-unit merge (rolled out 2024-12-30 →
2025-01-21: perpetuals, expiry futures and options of one underlying — USDT-, USDC- and
coin-margined — form one unit) with the parameters of 2025-01-06 (MR1, MR6), 2025-01-15 (MR7
tiers) and the MR4 rates announced with them. [R] marks what the response example of OKX's API
docs ("Position builder (new)", ``POST /api/v5/account/position-builder``: two USDT perpetuals,
BTC and LTC, with a USDT debt) confirms: a test reproduces its per-unit mr1 stress P&L, mr4, mr6,
mr7, mmr, imr and the account's mr8 and totals to their printed precision. Per unit::

    MMR_unit = max( max(MR1, MR6) + MR4 + MR9 , MR7 )        account MMR = Σ units + MR8
    IMR = imr_factor (1.3) × Σ units + MR8 at its IM rate

* [V] MR1 spot shock: the worst loss over price moves ±0/4/8/12% (BTC, ETH), ±0/6/12/18% (LTC,
  BCH, EOS, OKB, DOT, BSV, LINK, FIL, ADA, TRX, UNI, XRP), ±0/8/16/25% (others). [I] options are
  repriced with their IV shocked by ``mr1_vol_shock_up`` / ``mr1_vol_shock_down`` (fractions of
  IV; 0 by default — OKX publishes no IV shock, and its vega charge MR3 is not modelled).
* [V] MR6 extreme move ±24% (BTC, ETH), ±36% (SOL, DOGE, PEPE, XRP, BNB, SHIB, LTC, ORDI, WLD,
  BCH, ADA), ±50% (others); [R] counted at ``mr6_factor`` = 0.5 of its loss.
* MR4 basis risk: [V] annualised move risk 5% (BTC, ETH), 15% (the MR6 mid group), 30%
  (others); [I] per position ``|notional|·max(mr4_min_rate, mr4_annualized_move_risk·T)`` with
  ``mr4_min_rate`` 0.2% (BTC, ETH) / 0.8% (others) so that perpetuals carry one (T = 0) — [R] for
  perpetuals (BTC, LTC): 0.2% / 0.8% of |cash delta|.
* MR7 minimum charge: raw = ``mr7_rate``·Σ|notional| (0.45% BTC/ETH, 0.7% others; [R] for BTC and
  LTC perpetuals, [I] otherwise); [V] the
  raw charge is multiplied tier by tier (each tier's multiplier on its part of the raw charge:
  OKX's example — raw 30,000 USD with tiers ≤10,000 ×1, ≤70,000 ×2 → 50,000); 2025 BTC/ETH tiers
  ``mr7_tiers`` ≤250k ×1, ≤500k ×2, ≤1M ×4, ≤2M ×6, ≤3M ×8, ≤4M ×10, above ×12 (used for
  every unit of the account: OKX's tables for other coins are not published here).
* [V] [R] MR8 borrowing: 2% (MM) / 10% (IM) of the stable coins borrowed (negative collateral).
  OKX values MR4/MR7 on the cash delta (mark × USDT/USD) and MR1/MR6 on the stressed USD value;
  here a stable coin is 1 USD and one price serves both (the response's bases differ by ≤ 1.5e-4).
* MR9 stable-coin depeg risk: [V] cash deltas per settlement coin (USDT, USDC, USD) are matched
  pair by pair (USDT–USD, USDT–USDC, USDC–USD) and each hedge is charged tier by tier (OKX's
  example: 1M × 0.75% + 4M × 1.75% + 5M × 2.5% = 202,500 USD, :func:`~liqrisk.margin.scenario.
  multiplied`); ``mr9_tiers`` [V] 0.5% to 1M and 1% to 5M USD at a USDT/USD index ≥ 0.995 (OKX's
  higher tiers and lower index columns are not published here: override). [I] Modelled for the
  USDT–USDC hedge of linear contracts (sizes in base units) at the first tier's rate, carried
  by each hedged position so that it follows the index: exact while the hedge is inside the
  first tier (it shows in the unit's ``roll_shock`` with MR4); USD-settled legs (inverse
  contracts, coin-margined options) are not matched. The notes say so.
* Not modelled [?]: MR2 (theta decay risk), MR3 (vega risk), MR5 (interest rate risk), options
  only — OKX publishes where they enter, ``MMR_unit = max(max(MR1, MR2, MR6) + MR3 + MR4 + MR5 +
  MR9, MR7)``, and their names, but not their formulas; each account with options says so in its
  notes. Nor the liquidation cost of OKX's margin ratio, adjusted equity / (MMR + liquidation
  cost): no published formula; in the docs response it is 0.1% × (USDT debt + MR8) to all printed
  digits and nothing for the perpetuals — one example, so each borrowing account's notes say it
  is left out (see docs/scenario_margin.md).

The moves are expressed in units of each unit's largest MR1 move (``sh_rel``), so units of one
account share one scenario set: exact while the account's units share the MR1 points and the
MR6/MR1 ratio (2 for BTC/ETH, mid caps and others alike); an account mixing ratios (SOL: 36%
against 25%) evaluates every unit at every ratio present — an upper bound, said in the notes.

Parameters: ``venue: {name: okx, portfolio_margin: {mr6_factor: 0.5, BTC: {mr7_rate: 0.004}}}``
— top-level keys apply to every unit, a block named by an underlying to that unit only.
"""
from __future__ import annotations

import math

from liqrisk.margin.base import INVERSE, INVERSE_OPTION, MM_NONE
from liqrisk.margin import scenario
from liqrisk.margin.offsets import rates, settle_coin, stable_pairs
from liqrisk.margin.scenario import ScenarioSet

MR1_MID = {"LTC", "BCH", "EOS", "OKB", "DOT", "BSV", "LINK", "FIL", "ADA", "TRX", "UNI", "XRP"}
MR6_MID = {"SOL", "DOGE", "PEPE", "XRP", "BNB", "SHIB", "LTC", "ORDI", "WLD", "BCH", "ADA"}
MR7_TIERS_2025 = [[0, 1], [250_000, 2], [500_000, 4], [1_000_000, 6], [2_000_000, 8], [3_000_000, 10],
                  [4_000_000, 12]]
MR9_TIERS = [[0, 0.005], [1_000_000, 0.01]]     # hedge USD floor, rate (USDT/USD index ≥ 0.995)
ACCOUNT_KEYS = {"mr6_factor": 0.5, "mr7_tiers": MR7_TIERS_2025, "mr8_mm_rate": 0.02, "mr8_im_rate": 0.10,
                "imr_factor": 1.3, "mr9_tiers": MR9_TIERS}
STABLE = ("USDT", "USDC", "USD")
#: the values each parameter may take (:func:`liqrisk.margin.scenario.value_problems`; tiers apart)
RANGES = {"mr6_factor": "[0, 10]", "mr8_mm_rate": "[0, 1]", "mr8_im_rate": "[0, 1]", "imr_factor": "[0, 100]",
          "mr1_price_moves": "(0, 1) list", "mr1_vol_shock_up": "[0, 100]", "mr1_vol_shock_down": "[0, 1]",
          "mr6_price_move": "(0, 1)", "mr4_annualized_move_risk": "[0, 10]", "mr4_min_rate": "[0, 1]",
          "mr7_rate": "[0, 1]"}
UNIT_KEYS = ("mr1_price_moves", "mr1_vol_shock_up", "mr1_vol_shock_down", "mr6_price_move",
             "mr4_annualized_move_risk", "mr4_min_rate", "mr7_rate")


def unit_parameters(underlying: str, overrides: dict) -> dict:
    """The published defaults of ``underlying``'s risk unit, then the user's top-level keys,
    then the user's block for that underlying."""
    major = underlying in ("BTC", "ETH")
    par = {"mr1_price_moves": [0.04, 0.08, 0.12] if major else [0.06, 0.12, 0.18] if underlying in MR1_MID
           else [0.08, 0.16, 0.25],
           "mr1_vol_shock_up": 0.0, "mr1_vol_shock_down": 0.0,
           "mr6_price_move": 0.24 if major else 0.36 if underlying in MR6_MID else 0.50,
           "mr4_annualized_move_risk": 0.05 if major else 0.15 if underlying in MR6_MID else 0.30,
           "mr4_min_rate": 0.002 if major else 0.008,
           "mr7_rate": 0.0045 if major else 0.007}
    return par | scenario.unit_overrides(underlying, overrides, UNIT_KEYS)


def account_problems(overrides: dict, account, underlyings) -> list[str]:
    """Unknown parameters; borrowing (MR8) only in stable coins."""
    out = scenario.parameter_problems(overrides, underlyings, UNIT_KEYS, ACCOUNT_KEYS, "okx")
    out += scenario.value_problems(overrides, RANGES)
    out += [p for key, hi in (("mr7_tiers", 1e6), ("mr9_tiers", 1.0)) if key in overrides
            for p in scenario.tier_problems(f"venue.portfolio_margin.{key}", overrides[key], hi)]
    return out + [f"field 'collateral.{c}': OKX portfolio margin models borrowing (MR8) in stable coins only; "
                  f"a negative {c} balance is not supported" for c, a, _ in account.collateral_items()
                  if a < 0 and c not in STABLE]


def position_terms(t, par: dict) -> dict:
    """Scenario terms of one position: range = the unit's largest MR1 move, IV shocks, MR4 and
    MR7 rates per USD of notional."""
    out = {"mm_code": MM_NONE, "sh_rel": max(par["mr1_price_moves"]), "min_charge": par["mr7_rate"],
           "roll": max(par["mr4_min_rate"], par["mr4_annualized_move_risk"] * max(t.expiry_years, 0.0))}
    if t.contract == INVERSE_OPTION:
        out["roll"] = 0.0                                     # basis risk: futures only
        out["vol_up"] = t.vol * (1 + par["mr1_vol_shock_up"])
        out["vol_dn"] = max(t.vol * (1 - par["mr1_vol_shock_down"]), 0.0)
    return out


def offset_rates(account, rules) -> tuple[dict, list[str]]:
    """Per position (``id``): its share of MR9 on each unit's USDT–USDC hedge of linear contracts,
    at the first ``mr9_tiers`` rate, and the notes on what MR9 leaves out (module docstring)."""
    tiers = rules.params.portfolio_margin.get("mr9_tiers", MR9_TIERS)
    out: dict = {}
    notes: list[str] = []
    units: dict = {}
    for p in account.positions:
        coin = settle_coin(p, p.kind == "option" or rules.contract_of(p) == INVERSE, "USD")
        units.setdefault(rules.underlying_of(p), []).append((coin, p.size, id(p)))
    for und, legs in units.items():
        stable = [leg for leg in legs if leg[0] != "USD"]
        matches = stable_pairs(stable, [("USDT", "USDC")])
        out.update(rates(stable, matches, lambda m: m[2] * float(tiers[0][1])))
        if matches:
            notes.append(f"{und}: MR9 on the USDT-USDC hedge ({matches[0][2]:g} {und}) at the first mr9_tiers rate "
                         f"{float(tiers[0][1]):g}: exact while the hedge is inside that tier")
        if stable and len(stable) < len(legs):
            notes.append(f"{und}: MR9's USD pairs (USDT-USD, USDC-USD: inverse contracts, coin-margined options) "
                         f"are not modelled")
    return out, notes


def _distinct(xs) -> list[float]:
    """``xs`` sorted, values within 1e-12 of the previous kept one dropped: the same fraction of
    the largest move reached by different units (BTC 4/12, LTC 6/18) is one scenario, not two."""
    out: list[float] = []
    for x in sorted(xs):
        if not out or not math.isclose(x, out[-1], rel_tol=1e-12, abs_tol=1e-15):
            out.append(x)
    return out


def scenario_set(units: dict[str, dict], overrides: dict, account) -> ScenarioSet:
    """MR1 rows (vol unchanged, and vol up / down where an IV shock is set) and MR6 rows at
    ``mr6_factor``, in units of each unit's largest MR1 move; MR7 tiers; MR8 as a constant."""
    account_par = {**ACCOUNT_KEYS, **{k: v for k, v in overrides.items() if k in ACCOUNT_KEYS}}
    borrowed_usd = -sum(a for c, a, _ in account.collateral_items() if a < 0)
    has_options = any(p.kind == "option" for p in account.positions)
    fractions, ratios, shocked = [0.0], [], False
    for par in units.values():
        top = max(par["mr1_price_moves"])
        fractions += [s * m / top for m in par["mr1_price_moves"] for s in (-1, 1)]
        ratios.append(par["mr6_price_move"] / top)
        shocked |= par["mr1_vol_shock_up"] > 0 or par["mr1_vol_shock_down"] > 0
    fractions, ratios = _distinct(fractions), _distinct(ratios)
    vol_codes = (1, 0, -1) if shocked and has_options else (0,)
    moves, vols, weights, labels = [], [], [], []
    for x in fractions:
        for v in vol_codes:
            moves.append(x), vols.append(v), weights.append(1.0)
            labels.append(f"MR1 {x:+.3g}×max move" + ("" if v == 0 else f" vol {'up' if v > 0 else 'down'}"))
    for r in ratios:
        for x in (-r, r):
            moves.append(x), vols.append(0), weights.append(float(account_par["mr6_factor"]))
            labels.append(f"MR6 {x:+.3g}×max move (extreme, ×{account_par['mr6_factor']:g})")
    notes = []
    if len(ratios) > 1:
        notes.append("units with different MR6/MR1 ratios share one scenario set: each unit is also "
                     "evaluated at the others' extreme moves (an upper bound of MR6)")
    if has_options:
        notes.append("MR2 (theta decay), MR3 (vega) and MR5 (interest rate) risk are not modelled (OKX publishes "
                     "no formula): the options' requirement is understated by them")
    if borrowed_usd > 0:
        notes.append("OKX's margin ratio divides by MMR + a liquidation cost it publishes no formula for (0.1% of "
                     "the debt + MR8 in its API docs' example): not modelled, liquidation is at equity = MMR")
    mr8_mm, mr8_im = account_par["mr8_mm_rate"] * borrowed_usd, account_par["mr8_im_rate"] * borrowed_usd
    return ScenarioSet("OKX portfolio margin (risk units)", moves, vols, weights, [0.0] * len(moves), labels,
                       pnl_offset=1.0, mm_factor=1.0, im_factor=float(account_par["imr_factor"]), add=mr8_mm,
                       im_add=mr8_im, charge_tiers=[(float(lo), float(m)) for lo, m in account_par["mr7_tiers"]],
                       move_labels={x: f"{x:+.3g}×max" for x in moves}, notes=notes,
                       unit_scale={u: max(par["mr1_price_moves"]) for u, par in units.items()})
