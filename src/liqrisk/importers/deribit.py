"""Deribit ``private/get_positions`` (and ``private/get_account_summary``) → a portfolio document.

Input: the JSON-RPC answer of get_positions (``{"result": [...]}`` or the list itself), or
``{"positions": <that>, "account_summaries": [<get_account_summary answers>]}``. Deribit API v2:
``size`` is signed, in USD for futures and perpetuals, in the underlying for options;
``average_price`` is the entry (options: premium in the underlying); ``index_price`` the
underlying's index. Instrument names: ``BTC-PERPETUAL``, ``BTC-27DEC24`` (expiry 08:00 UTC),
``BTC-27DEC24-100000-C``. One account per currency; its collateral is the summary's ``balance``
(the wallet, without unrealized PnL) or ``collateral`` given by the caller (currency → amount).
"""
from __future__ import annotations

from datetime import datetime, timezone

from liqrisk.importers import as_of_text, finish, mapping, number
from liqrisk.io.portfolio import InputError
from liqrisk.margin.deribit import INSTRUMENT_NAME

_NAME = INSTRUMENT_NAME       # the rule set's grammar of instrument names
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                       "NOV", "DEC"), 1)}


def _result(x, what: str):
    if isinstance(x, dict) and "result" in x:
        return x["result"]
    if isinstance(x, dict) and "error" in x:
        raise InputError([f"{what}: the saved answer is an error: {x['error']}"])
    return x


def from_response(data, collateral: dict[str, float] | None = None, as_of=None,
                  vols: dict | None = None) -> tuple[dict, list[str]]:
    if isinstance(data, dict) and "positions" in data:
        positions = _result(data["positions"], "positions")
        summaries = data.get("account_summaries") or []
        if not isinstance(summaries, list):
            raise InputError(["account_summaries: expected a list of get_account_summary answers"])
        summaries = [_result(s, "account_summaries") for s in summaries]
    else:
        positions, summaries = _result(data, "get_positions"), []
    if not isinstance(positions, list):
        raise InputError(["get_positions: expected a list of positions in 'result'"])
    wallets = {str(s.get("currency", "")).upper(): number(s.get("balance"), f"account summary {s.get('currency')}: balance")
               for s in summaries if isinstance(s, dict)}
    wallets.update({k.upper(): v for k, v in (collateral or {}).items()})
    accounts: dict[str, dict] = {}
    marks: dict[str, float] = {}
    for n, p in enumerate(positions, 1):
        p = mapping(p, f"position {n}")
        name = str(p.get("instrument_name", ""))
        where = f"position {n} ({name})"
        size = number(p.get("size", 0), f"{where}: size")
        if size == 0:
            continue
        m = _NAME.match(name)
        if not m:
            raise InputError([f"{where}: instrument_name is not a Deribit future, perpetual or option"])
        und = m.group("und")
        pos = {"size": size, "entry": number(p.get("average_price"), f"{where}: average_price", True)}
        if m.group("perp"):
            pos.update(kind="perp", symbol=name)
        else:
            try:
                expiry = datetime(2000 + int(m.group("yy")), _MONTHS[m.group("mon")], int(m.group("day")), 8,
                                  tzinfo=timezone.utc)
            except (KeyError, ValueError):
                raise InputError([f"{where}: instrument_name has no valid expiry date (e.g. 27DEC24)"]) from None
            pos.update(underlying=und, expiry=as_of_text(expiry))
            if m.group("type"):
                pos.update(kind="option", strike=number(m.group("strike").replace("d", "."), f"{where}: strike", True),
                           type="call" if m.group("type") == "C" else "put",
                           mark=number(p.get("mark_price"), f"{where}: mark_price", True))
            else:
                pos["kind"] = "future"
        if p.get("index_price") is not None:
            marks.setdefault(und, number(p["index_price"], f"{where}: index_price", True))
        acc = accounts.setdefault(und, {"id": f"deribit-{und.lower()}", "venue": "deribit", "mode": "cross",
                                        "collateral": {}, "positions": []})
        acc["positions"].append(pos)
    for und, acc in accounts.items():
        if und not in wallets:
            raise InputError([f"deribit {und} account: no wallet balance (save private/get_account_summary "
                              f"for {und} as account_summaries, or pass --collateral {und}=AMOUNT)"])
        acc["collateral"] = {und: wallets[und]}
    return finish(as_of_text(as_of), marks, list(accounts.values()), vols), []
