"""Binance portfolio margin: one uniMMR across USDⓈ-M, COIN-M and margin loans.

Rule version: Binance Portfolio Margin FAQ (uniMMR, bands) as published 2024–2026:

* [V] equity per asset ``E_a = margin balance − loan + futures wallet + futures uPnL`` (in the
  coin), valued ``min(E_a·P_a·collateral_rate_a, E_a·P_a)``; adjusted equity = Σ_a.
* [V] MM = USDⓈ-M brackets (``MMR·|Q|·mark − cum``) + COIN-M brackets (in coin, × price) + each
  margin loan × its MMR (3× 10%, 5× 8%, 10× 5%); ``uniMMR = adjusted equity / MM``.
* [V] bands: healthy above 1.2; new orders limited from 1.2 down to 1.05; **liquidation at
  uniMMR ≤ 1.05** (``liquidation_uni_mmr``).
* [?] collateral rates (Binance's ``GET /sapi/v1/portfolio/collateralRate``): representative
  bundled defaults (``venue_defaults.json``, ``binance-pm``), override with ``collateral_rates``.

On the kernel the account is one pool whose ``equity − MM`` is ``adjusted equity − 1.05·MM``:
bracket rates and loan MMRs are scaled by ``liquidation_uni_mmr``, and the net-equity haircut
(:func:`liqrisk.margin.kernel.asset_haircut_nb`) turns balances and coin-margined PnL into
adjusted equity, so boundaries are the prices where uniMMR reaches 1.05.

Input: ``collateral`` = margin balances plus futures wallets per asset (USDT, BTC, …),
``borrowed`` = margin loans, positions USDⓈ-M (``BTCUSDT``) and COIN-M (``BTCUSD_PERP``, size in
USD face). Parameters: ``venue: {name: binance-usdm, portfolio_margin: {collateral_rates: {BTC:
0.95}, margin_loan_leverage: 3, liquidation_uni_mmr: 1.05, restricted_uni_mmr: 1.2}}``.
"""
from __future__ import annotations

from dataclasses import replace

from liqrisk.margin.base import venue_defaults
from liqrisk.margin.scenario import ScenarioSet, value_problems
from liqrisk.margin.tiers import TierTable

LOAN_MMR = {3: 0.10, 5: 0.08, 10: 0.05}          # margin-loan MMR by margin leverage [V]
DEFAULTS = {"margin_loan_leverage": 3, "liquidation_uni_mmr": 1.05, "restricted_uni_mmr": 1.2}
KNOWN = ("collateral_rates", "margin_loan_mmr", *DEFAULTS)
#: the values the uniMMR and loan parameters may take (:func:`liqrisk.margin.scenario.value_problems`)
RANGES = {"liquidation_uni_mmr": "(0, 100]", "restricted_uni_mmr": "(0, 100]", "margin_loan_mmr": "[0, 1]"}
STABLE = ("USDT", "USDC", "FDUSD", "USD")


def parameters(overrides: dict) -> dict:
    return {**DEFAULTS, **overrides}


def collateral_rate(asset: str, par: dict) -> float:
    table = venue_defaults()["binance-pm"]["collateral_rates"]
    user = {k.upper(): v for k, v in (par.get("collateral_rates") or {}).items()}
    return float(user.get(asset, table.get(asset, table["*"])))


def loan_mmr(par: dict) -> float:
    if "margin_loan_mmr" in par:
        return float(par["margin_loan_mmr"])
    return LOAN_MMR[int(par["margin_loan_leverage"])]


def account_problems(par: dict, account) -> list[str]:
    out = [f"field 'venue.portfolio_margin.{k}': unknown parameter for binance portfolio margin "
           f"(known: {', '.join(KNOWN)})" for k in par if k not in KNOWN and k not in DEFAULTS]
    lev = par.get("margin_loan_leverage", 3)
    if "margin_loan_mmr" not in par and lev not in LOAN_MMR:
        out.append(f"field 'venue.portfolio_margin.margin_loan_leverage': one of 3, 5, 10 (or give margin_loan_mmr)")
    for k, v in (par.get("collateral_rates") or {}).items():
        if not (isinstance(v, (int, float)) and 0 <= v <= 1):
            out.append(f"field 'venue.portfolio_margin.collateral_rates.{k}': a fraction in [0, 1]")
    bad = value_problems(par, RANGES)
    if bad:
        return out + bad                              # the comparison below needs numbers
    if not par["liquidation_uni_mmr"] <= par["restricted_uni_mmr"]:
        out.append("field 'venue.portfolio_margin.liquidation_uni_mmr': must not exceed restricted_uni_mmr")
    out += [f"field 'collateral.{c}': a margin loan goes in 'borrowed', not as a negative balance"
            for c, a, _ in account.collateral_items() if a < 0]
    return out


def scaled(table: TierTable, k: float) -> TierTable:
    """The brackets with every rate and deduction × k (MM·k at every notional)."""
    return replace(table, mmr=table.mmr * k, cum=table.cum * k)


def collateral_legs(account, par: dict, coins_traded) -> list[tuple[str, float, float]]:
    """(asset, amount, MM per USD) legs: balances with MM rate 1 − collateral rate (the kernel
    applies it to the asset's net equity); a zero leg carrying the rate for a coin with COIN-M
    positions or a loan but no balance; loans negative with MM rate −k·loan MMR (so MM = k·MMR·
    loan value, k = liquidation_uni_mmr). Stable coins at their rate on the balance."""
    k = float(par["liquidation_uni_mmr"])
    balances = {c: a for c, a, _ in account.collateral_items()}
    loans = dict(account.borrowed_items())
    legs = []
    for coin in dict.fromkeys([*balances, *coins_traded, *loans]):
        rate = collateral_rate(coin, par)
        if coin in STABLE:
            legs.append((coin, balances.get(coin, 0.0) * rate, 0.0))
        else:
            legs.append((coin, balances.get(coin, 0.0), 1.0 - rate))
        if coin in loans:
            legs.append((coin, -loans[coin], -k * loan_mmr(par)))
    return legs


def scenario_set(par: dict) -> ScenarioSet:
    """No price scenarios: one empty row (the pool is a scenario pool only for its net-equity
    haircut)."""
    return ScenarioSet("Binance portfolio margin (uniMMR)", [0.0], [0], [0.0], [0.0], ["mark"], im_factor=None,
                       net_haircut=True, move_labels={0.0: "mark"})


def block(account, par: dict, prices: dict, position_mm_usd: float, coin_pnl: dict, usdm_pnl: float,
          gap_usd: float) -> dict:
    """uniMMR, band, per-asset equity and adjusted equity, MM components — from the rules at the
    mark (``coin_pnl``: COIN-M uPnL per coin, ``position_mm_usd``: Σ bracket MM unscaled);
    ``gap_usd`` is the kernel's equity − MM, reported beside its closed form."""
    balances = {c: a for c, a, _ in account.collateral_items()}
    loans = dict(account.borrowed_items())
    assets, adjusted, loan_mm = {}, 0.0, 0.0
    for coin in dict.fromkeys([*balances, *coin_pnl, *loans]):
        e = balances.get(coin, 0.0) - loans.get(coin, 0.0) + coin_pnl.get(coin, 0.0)
        if coin in STABLE:
            e += usdm_pnl if coin == "USDT" else 0.0
        price = prices.get(coin, 1.0)
        rate = collateral_rate(coin, par)
        value = min(e * price * rate, e * price)
        assets[coin] = {"equity": e, "collateral_rate": rate, "adjusted_equity_usd": value}
        adjusted += value
        loan_mm += loans.get(coin, 0.0) * loan_mmr(par) * price
    if "USDT" not in assets and usdm_pnl:
        assets["USDT"] = {"equity": usdm_pnl, "collateral_rate": collateral_rate("USDT", par),
                          "adjusted_equity_usd": min(usdm_pnl * collateral_rate("USDT", par), usdm_pnl)}
        adjusted += assets["USDT"]["adjusted_equity_usd"]
    mm = position_mm_usd + loan_mm
    uni = adjusted / mm if mm > 0 else None
    liq, restricted = float(par["liquidation_uni_mmr"]), float(par["restricted_uni_mmr"])
    band = ("healthy" if uni is None or uni > restricted else "new orders limited" if uni > liq
            else "liquidation")
    return {"model": "Binance portfolio margin (uniMMR)", "currency": "USD", "uni_mmr": uni, "band": band,
            "bands": {"healthy_above": restricted, "liquidation_at_or_below": liq},
            "adjusted_equity": adjusted, "maintenance_margin": mm, "futures_mm": position_mm_usd,
            "margin_loan_mm": loan_mm, "initial_margin": None, "liquidation_requirement": liq * mm,
            "kernel_gap": gap_usd, "assets": assets, "worst_scenario": None, "units": [],
            "notes": ["collateral rates are representative defaults unless given in collateral_rates"]}
