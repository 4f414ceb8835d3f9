"""ccxt's unified structures → a portfolio document.

Input (one JSON file, what a script saves from ccxt)::

    {"exchange": "binance", "as_of": "...",            # exchange: ccxt id; "account": id (optional)
     "positions": fetch_positions(), "balance": fetch_balance(),
     "markets": fetch_markets() or load_markets()}     # markets optional (contract sizes, ids)

or ``{"accounts": [dump, ...]}`` for several exchanges at once.

Mapping (ccxt Manual, "Position structure", "Balance structure", "Market structure"):

* size = ±contracts × contractSize: base units for linear contracts, USD face for inverse ones
  (ccxt's contractSize of an inverse contract is its USD value), underlying units for options;
  ``side`` gives the sign;
* an isolated position's margin at entry basis: ccxt's ``collateral`` is the venue's isolated
  margin field, which includes the position's PnL on Binance (``isolatedMargin``) and
  Hyperliquid (``marginUsed``) — margin = ``collateral − unrealizedPnl`` — and excludes it on OKX
  (``margin``: the engine reproduces OKX's recorded ``liqPx`` only so) and Bybit
  (``positionBalance``);
* the cross wallet of a settlement currency = balance ``total`` − isolated margins − unrealized
  PnL where ccxt's ``total`` is the equity (Binance futures: ``marginBalance``, OKX:
  ``eq``, Hyperliquid: ``accountValue``, Deribit: ``equity``); Bybit's ``total`` is the wallet
  itself (``walletBalance``, as ccxt's recorded unified-account balance shows), so only the
  isolated margins come off. ``balance_is`` overrides the exchange's convention;
* a position whose ``contracts × contractSize`` disagrees with its own ``notional`` (ccxt parsed
  without markets) is refused, naming the field, rather than imported 1000× off;
* one account per venue and settlement currency (coin-margined venues margin each coin apart);
* the mark of each underlying comes from its perpetual's ``markPrice`` (else any position's, else
  ``notional / |size|`` of a linear contract);
* Binance Multi-Assets mode (the dump's ``multi_assets_margin``: the saved
  ``GET /fapi/v1/multiAssetsMargin`` answer, with ``asset_index``: ``GET /fapi/v1/assetIndex``):
  every other positive balance joins the USDⓈ-M cross account as collateral with haircut
  ``bidBuffer`` (Binance counts it at ``bidRate = index·(1 − bidBuffer)``) and its index as mark;
* Deribit sizes come from Deribit's own ``info.size`` (ccxt's Deribit ``contracts`` is None);
* Hyperliquid gives no tier table per coin: the position's ``maxLeverage`` (ccxt ``info``, or the
  market's leverage limit) sets the maintenance rate through the venue's own rule set.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from liqrisk.importers import as_of_text, finish, mapping, number
from liqrisk.io.portfolio import STABLECOINS, InputError

# ccxt exchange id → (venue of linear contracts, venue of inverse contracts)
VENUES = {
    "binance": ("binance-usdm", "binance-coinm"), "binanceusdm": ("binance-usdm", None),
    "binancecoinm": (None, "binance-coinm"), "bybit": ("bybit-linear", "bybit-inverse"),
    "okx": ("okx", "okx"), "deribit": (None, "deribit"), "hyperliquid": ("hyperliquid", None),
}
#: what ccxt's balance ``total`` is on each exchange (default: the equity)
TOTAL_IS_WALLET = {"bybit"}
#: exchanges whose isolated ``collateral`` (the venue's margin field) excludes the position's PnL
COLLATERAL_EXCLUDES_PNL = {"okx", "bybit"}
#: |contracts × contractSize| may differ from the reported notional by this much (marks move
#: between the venue's notional and its mark; OKX reports notionalUsd for a USDT contract)
NOTIONAL_TOLERANCE = 0.01
_SYMBOL = re.compile(r"^(?P<base>[^/]+)/(?P<quote>[^:]+)(?::(?P<settle>[^-]+)"
                     r"(?:-(?P<expiry>\d{6})(?:-(?P<strike>[\d.]+)-(?P<type>[CP]))?)?)?$")


def market_of(symbol: str, markets: dict) -> dict:
    """The ccxt market of ``symbol``: from the saved markets, else parsed from the unified symbol
    ``BASE/QUOTE:SETTLE[-YYMMDD[-STRIKE-C|P]]``."""
    if not isinstance(symbol, str):
        raise InputError([f"position symbol {symbol!r}: expected a ccxt unified symbol (BASE/QUOTE:SETTLE…)"])
    if symbol in markets:
        m = mapping(markets[symbol], f"markets[{symbol!r}]")
        for key in ("base", "quote"):
            if not isinstance(m.get(key), str):
                raise InputError([f"markets[{symbol!r}]: '{key}' must be a currency code"])
        return m
    m = _SYMBOL.match(symbol)
    if not m or not m.group("settle"):
        raise InputError([f"position {symbol!r}: not a ccxt derivatives symbol (BASE/QUOTE:SETTLE…) "
                          "and not in 'markets'"])
    base, quote, settle = m.group("base"), m.group("quote"), m.group("settle")
    out = {"symbol": symbol, "base": base, "quote": quote, "settle": settle,
           "linear": settle == quote, "inverse": settle == base,
           "type": "option" if m.group("type") else "future" if m.group("expiry") else "swap"}
    if m.group("expiry"):
        e = m.group("expiry")
        out["expiry"] = int(datetime(2000 + int(e[:2]), int(e[2:4]), int(e[4:]), 8, tzinfo=timezone.utc)
                            .timestamp() * 1000)
    if m.group("type"):
        out["strike"], out["optionType"] = float(m.group("strike")), "call" if m.group("type") == "C" else "put"
    return out


def _venue_symbol(exchange: str, m: dict, info: dict) -> str:
    """The venue's own contract name, which its tier tables are keyed by."""
    base, quote = m["base"].upper(), m["quote"].upper()
    if exchange == "hyperliquid":
        position = info.get("position")
        return str((position if isinstance(position, dict) else {}).get("coin") or base)
    mid = m.get("id")
    if isinstance(mid, str) and mid and not mid.isdigit():
        return mid
    for key in ("symbol", "instId", "instrument_name"):
        if isinstance(info.get(key), str):
            return info[key]
    if exchange == "okx":
        return f"{base}-{quote}-SWAP"
    if m.get("inverse"):
        return f"{base}USD_PERP" if exchange.startswith("binance") else f"{base}USD"
    return base + quote


def _max_leverage(p: dict, m: dict, where: str) -> float | None:
    lev = mapping(p["info"].get("position"), f"{where}: info.position").get("maxLeverage") \
        or mapping(mapping(m.get("limits"), f"{where}: market limits").get("leverage"), f"{where}: market limits.leverage").get("max")
    return number(lev, f"{where}: maxLeverage", positive=True) if lev else None


def from_dump(dump: dict, venue: str | None = None, as_of=None, vols: dict | None = None,
              balance_is: str | None = None) -> tuple[dict, list[str]]:
    """A portfolio document (and notes) from one saved ccxt dump or ``{"accounts": [...]}``."""
    dumps = dump.get("accounts") if isinstance(dump, dict) and "accounts" in dump else [dump]
    accounts, marks, notes = [], {}, []
    for k, d in enumerate(dumps):
        if not isinstance(d, dict) or not isinstance(d.get("positions"), list):
            raise InputError([f"dump {k + 1}: expected {{exchange, positions: [...], balance: {{...}}}}"])
        accs, mk, nt = _accounts(d, venue, balance_is)
        accounts += accs
        notes += nt
        for u, v in mk.items():
            marks.setdefault(u, v)
    return finish(as_of_text(as_of or dumps[0].get("as_of") or _latest_timestamp(dumps)), marks, accounts, vols), notes


def _latest_timestamp(dumps: list[dict]) -> int | None:
    """The latest ccxt ``timestamp`` (ms) of the saved balances and positions, if any."""
    stamps = [x.get(k) for d in dumps for x in [d.get("balance") or {}, *d["positions"]]
              for k in ("timestamp", "lastUpdateTimestamp") if isinstance(x, dict)]
    stamps = [int(t) for t in stamps if isinstance(t, (int, float))]
    return max(stamps) if stamps else None


def _accounts(d: dict, venue: str | None, balance_is: str | None):
    exchange = str(d.get("exchange") or "").lower()
    if exchange not in VENUES:
        raise InputError([f"exchange: '{exchange}' is not supported (supported: {', '.join(sorted(VENUES))})"])
    balance_is = balance_is or ("wallet" if exchange in TOTAL_IS_WALLET else "equity")
    markets = d.get("markets") or {}
    if isinstance(markets, list):
        markets = {m["symbol"]: m for m in markets if isinstance(m, dict) and isinstance(m.get("symbol"), str)}
    markets = mapping(markets, "markets")
    groups: dict[tuple[str, str], dict] = {}
    marks, perp_marks = {}, {}
    for n, p in enumerate(d["positions"], 1):
        p = mapping(p, f"{exchange} position {n}")
        where = f"{exchange} position {n} ({p.get('symbol')})"
        p = {**p, "info": mapping(p.get("info"), f"{where}: info")}
        m = market_of(p.get("symbol"), markets)
        size = _signed_size(exchange, p, m, where)
        if size == 0:
            continue
        inverse = bool(m.get("inverse")) or (m.get("settle") == m.get("base"))
        name = venue or VENUES[exchange][1 if inverse else 0]
        if name is None:
            raise InputError([f"{where}: {exchange} {'inverse' if inverse else 'linear'} contracts are not "
                              "supported by liqrisk's rule sets"])
        _check_notional(p, size, inverse, where)
        und = str(m["base"]).upper()
        und = "BTC" if und == "XBT" else und
        kind = {"swap": "perp", "future": "future", "option": "option"}.get(str(m.get("type")))
        if kind is None:
            raise InputError([f"{where}: market type '{m.get('type')}' is not a derivative"])
        pos = {"kind": kind, "size": size, "entry": number(p.get("entryPrice"), f"{where}: entryPrice", True)}
        if kind == "option":
            pos.update(underlying=und, strike=number(m.get("strike"), f"{where}: market strike", True),
                       type=m.get("optionType"))
        elif exchange == "deribit" and kind == "future":
            pos["underlying"] = und
        else:
            pos["symbol"] = _venue_symbol(exchange, m, p["info"])
        if kind in ("future", "option"):
            pos["expiry"] = as_of_text(m.get("expiry"), f"{where}: market expiry", required=True)
        if p.get("leverage"):
            pos["leverage"] = number(p["leverage"], f"{where}: leverage", True)
        upnl = number(p.get("unrealizedPnl") or 0, f"{where}: unrealizedPnl")
        isolated = p.get("marginMode") == "isolated" or p.get("isolated") is True
        if isolated:
            coll = number(p.get("collateral"), f"{where}: collateral (the isolated margin)")
            pos["margin"] = coll if exchange in COLLATERAL_EXCLUDES_PNL else coll - upnl
        if exchange == "hyperliquid" and kind == "perp":
            lev = _max_leverage(p, m, where)
            if lev:
                from liqrisk.margin.hyperliquid import Hyperliquid
                pos["mmr"] = float(Hyperliquid.rows_to_table([(0.0, 1e18, lev)]).mmr[0])
        if p.get("hedged") and p.get("side") in ("long", "short"):
            pos["position_side"] = p["side"]
        settle = str(m.get("settle") or ("USD" if not inverse else und)).upper()
        key = (name, settle)
        g = groups.setdefault(key, {"positions": [], "isolated_margin": 0.0, "upnl": 0.0, "cross": False})
        g["positions"].append(pos)
        g["upnl"] += upnl
        if isolated:
            g["isolated_margin"] += pos["margin"]
        else:
            g["cross"] = True
        mark = p.get("markPrice")
        if mark is None and exchange == "deribit":
            mark = p["info"].get("mark_price")
        if mark is None and not inverse and p.get("notional") and kind != "option":
            mark = abs(number(p["notional"], f"{where}: notional")) / abs(size)
        if mark is not None and kind != "option":
            (perp_marks if kind == "perp" else marks).setdefault(und, number(mark, f"{where}: markPrice", True))
    marks.update(perp_marks)
    totals = _totals(mapping(d.get("balance"), f"{exchange} balance"))
    accounts, notes, used = [], [], set()
    for (name, settle), g in groups.items():
        if settle not in totals:
            raise InputError([f"{exchange} balance: no '{settle}' total for the {name} account's collateral"])
        # the wallet total holds the isolated margins; an equity total holds every position's PnL too
        wallet = totals[settle] - g["isolated_margin"] - (g["upnl"] if balance_is == "equity" else 0.0)
        wallet = 0.0 if abs(wallet) <= 1e-12 * abs(totals[settle]) else wallet   # float residue of a zero wallet
        used.add(settle)
        prefix = str(d.get("account") or exchange)
        acc_id = prefix if len(groups) == 1 else f"{prefix}-{settle.lower()}"
        accounts.append({"id": acc_id, "venue": name, "mode": "cross" if g["cross"] or wallet > 0 else "isolated",
                         "collateral": {settle: wallet} if g["cross"] or wallet > 0 else {},
                         "positions": g["positions"]})
    haircuts = _multi_assets(d, exchange)
    if haircuts is not None:
        _add_multi_assets(accounts, totals, used, haircuts, marks)
    for ccy in sorted(set(totals) - used):
        if totals[ccy]:
            notes.append(f"{exchange}: balance {totals[ccy]:g} {ccy} not imported (not a settlement currency of "
                         "these positions)" + (" — add it as collateral if the venue counts it" if ccy not in STABLECOINS
                                              else ""))
    return accounts, marks, notes


def _multi_assets(d: dict, exchange: str) -> dict[str, tuple[float, float]] | None:
    """asset → (haircut, index price) when a Binance dump says the USDⓈ-M account is in
    Multi-Assets mode: ``multi_assets_margin`` is the saved ``GET /fapi/v1/multiAssetsMargin``
    answer (``{"multiAssetsMargin": true}``), ``asset_index`` the saved ``GET /fapi/v1/assetIndex``
    answer. Binance values a positive balance at ``bidRate = index·(1 − bidBuffer)``: the haircut
    is ``bidBuffer``. None when the mode is off or not given."""
    mode = d.get("multi_assets_margin")
    on = mode.get("multiAssetsMargin") if isinstance(mode, dict) else mode
    if on not in (True, "true"):
        return None
    if not exchange.startswith("binance"):
        raise InputError([f"multi_assets_margin: Multi-Assets mode is a Binance USDⓈ-M account mode, not {exchange}'s"])
    rows = d.get("asset_index")
    rows = [rows] if isinstance(rows, dict) else rows if isinstance(rows, list) else []
    out = {}
    for r in rows:
        sym = str(r.get("symbol", "")).upper() if isinstance(r, dict) else ""
        if sym.endswith("USD"):
            out[sym[:-3]] = (number(r.get("bidBuffer"), f"asset_index {sym}: bidBuffer"),
                             number(r.get("index"), f"asset_index {sym}: index", positive=True))
    return out


def _add_multi_assets(accounts: list[dict], totals: dict, used: set, haircuts: dict, marks: dict) -> None:
    """Every other positive balance joins the USDⓈ-M cross account as collateral with its
    haircut; a coin's mark is its asset index unless a position gave one."""
    usdm = [a for a in accounts if a["venue"] == "binance-usdm"]
    if len(usdm) != 1:
        raise InputError([f"multi_assets_margin: liqrisk imports Multi-Assets mode for one USDⓈ-M account "
                          f"settled in one currency; this dump has {len(usdm)} ({', '.join(a['id'] for a in usdm)})"])
    acc = usdm[0]
    for ccy in sorted(set(totals) - used):
        amount = totals[ccy]
        if amount == 0:
            continue
        if amount < 0:
            raise InputError([f"binance balance: {ccy} total {amount:g} is negative; Multi-Assets mode values a debt "
                              "at askRate, which liqrisk does not model"])
        if ccy not in haircuts:
            raise InputError([f"binance balance: {ccy} is held in Multi-Assets mode but asset_index has no '{ccy}USD' "
                              "(save GET /fapi/v1/assetIndex with the dump)"])
        haircut, index = haircuts[ccy]
        acc["collateral"][ccy] = {"amount": amount, "haircut": haircut}
        if ccy not in STABLECOINS:
            marks.setdefault(ccy, index)
        used.add(ccy)
    acc["mode"] = "cross"


def _signed_size(exchange: str, p: dict, m: dict, where: str) -> float:
    """±contracts × contractSize (base units, USD face of inverse contracts). Deribit: its own
    ``info.size`` (USD face of futures, coin of options) with the sign of ``info.direction``, since
    ccxt's Deribit ``contracts`` is None (ccxt 1.83 to 4.5.5) or the USD size itself (earlier)."""
    info = p["info"]
    if exchange == "deribit" and info.get("size") is not None:
        size = abs(number(info["size"], f"{where}: info.size"))
        return -size if p.get("side") == "short" or info.get("direction") == "sell" else size
    contracts = number(p.get("contracts") or 0, f"{where}: contracts")
    if contracts == 0:
        return 0.0
    size_unit = number(p.get("contractSize") or m.get("contractSize"), f"{where}: contractSize", positive=True)
    sign = -1.0 if p.get("side") == "short" or contracts < 0 else 1.0
    return sign * abs(contracts) * size_unit


def _check_notional(p: dict, size: float, inverse: bool, where: str) -> None:
    """|size| valued at the mark or at entry (Bybit reports the entry value; inverse: USD face /
    price, in coin) against ccxt's notional."""
    if not p.get("notional") or not p.get("markPrice") or str(p.get("symbol", "")).endswith(("-C", "-P")):
        return
    reported = abs(number(p["notional"], f"{where}: notional"))
    prices = [number(p["markPrice"], f"{where}: markPrice", True), number(p.get("entryPrice"), f"{where}: entryPrice", True)]
    implied = [abs(size) / x if inverse else abs(size) * x for x in prices]
    if min(abs(v - reported) for v in implied) > NOTIONAL_TOLERANCE * reported:
        raise InputError([f"{where}: contracts × contractSize = {abs(size):g} is worth {implied[0]:g} at the mark, "
                          f"but the position's notional is {reported:g}: contractSize is wrong (save "
                          "fetch_markets() with the dump, or fix contractSize)"])


def _totals(balance: dict) -> dict[str, float]:
    """Currency → total from a ccxt balance (its ``total`` map, else per-currency blocks)."""
    if isinstance(balance.get("total"), dict):
        raw = balance["total"]
    else:
        raw = {k: v.get("total") for k, v in balance.items() if isinstance(v, dict) and "total" in v}
    return {str(k).upper(): number(v, f"balance.total.{k}") for k, v in raw.items() if v is not None}
