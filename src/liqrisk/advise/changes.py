"""Changes to a portfolio — trades, top-ups, market moves, time passing — applied to a copy.

Order: the trades happen now at the current marks (``add``, ``reduce``, ``topup``), then the
market moves (``shock`` relative to the mark, ``vol`` an absolute shift of the implied vols),
then ``time`` passes: options lose time value, and every perp pays or receives funding at each
funding time (constant rate per interval per underlying from ``funding`` or the market's own
funding block; payments on the post-shock mark), settled into its isolated margin or the wallet.

Realised P&L of a reduction is the engine's unrealised P&L of the cut fraction (settlement
currency, at the mark); with the released share of an isolated margin it goes to the wallet.
Fees are not charged here (the exit cost reports them). The input portfolio is never mutated:
model objects are frozen and every change builds new ones.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta

from liqrisk.io.limits import AMOUNT_MAX, FUNDING_MAX, PRICE_RANGE, VOL_RANGE
from liqrisk.io.portfolio import InputError
from liqrisk.model import Account, Collateral, Instrument, Portfolio, Position, Quote

_PCT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(%?)\s*$")


def _number(text: str, where: str, percent_ok: bool = True) -> float:
    m = _PCT.match(text)
    if not m or (m.group(2) and not percent_ok):
        raise InputError([f"{where}: '{text}' is not a number{' (or a percentage)' if percent_ok else ''}"])
    v = float(m.group(1))
    if not math.isfinite(v) or abs(v) > AMOUNT_MAX:
        raise InputError([f"{where}: '{text}' is outside ±{AMOUNT_MAX:g}"])
    return v / 100 if m.group(2) else v


@dataclass(frozen=True)
class Add:
    account: str
    symbol: str
    size: float
    entry: float | None = None
    kind: str = "perp"
    position: Position | None = None       # a fully specified position (API: options, futures)


@dataclass(frozen=True)
class Reduce:
    account: str
    symbol: str
    fraction: float
    index: int | None = None        # the position's place in the account (API), else by symbol


@dataclass(frozen=True)
class TopUp:
    account: str
    asset: str                  # a collateral currency, or the symbol of an isolated position
    amount: float


@dataclass(frozen=True)
class Changes:
    """What changes (module docstring). ``shock``: underlying → relative move (−0.1 = −10%);
    ``vol``: underlying → absolute vol shift (+0.2 = +20 vol points); ``time_years``;
    ``funding``: underlying → rate per 8 h (overrides the market's)."""

    shock: dict[str, float] = field(default_factory=dict)
    vol: dict[str, float] = field(default_factory=dict)
    time_years: float = 0.0
    add: tuple[Add, ...] = ()
    reduce: tuple[Reduce, ...] = ()
    topup: tuple[TopUp, ...] = ()
    funding: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, shock=(), vol=(), time=None, add=(), reduce=(), topup=(), funding=()) -> "Changes":
        """From the CLI's strings: ``BTC=-10%``, ``BTC=+0.20``, ``3d``, ``ACCOUNT:SYMBOL:SIZE[@ENTRY]``,
        ``ACCOUNT:SYMBOL:FRACTION``, ``ACCOUNT:ASSET=AMOUNT``, ``BTC=0.0001``. Dicts and objects
        pass through (the Python API)."""
        from liqrisk.analysis import parse_horizon
        problems: list[str] = []

        def pairs(items, flag, percent_ok=True):
            if isinstance(items, dict):
                return {k.upper(): float(v) for k, v in items.items()}
            out = {}
            for s in items or ():
                k, sep, v = str(s).partition("=")
                if not sep or not k.strip():
                    problems.append(f"{flag} '{s}': expected UNDERLYING=VALUE, e.g. BTC=-10%")
                    continue
                try:
                    out[k.strip().upper()] = _number(v, f"{flag} '{s}'", percent_ok)
                except InputError as e:
                    problems.extend(e.problems)
            return out

        def split(items, flag, n, kind):
            out = []
            for s in items or ():
                if isinstance(s, kind):
                    out.append(s)
                    continue
                parts = str(s).split(":")
                if len(parts) != n or not all(p.strip() for p in parts):
                    problems.append(f"{flag} '{s}': expected {_FORMS[flag]}")
                    continue
                out.append(parts)
            return out

        shocks, vols, fund = pairs(shock, "--shock"), pairs(vol, "--vol"), pairs(funding, "--funding", False)
        for k, v in shocks.items():
            if not v > -1:
                problems.append(f"--shock {k}: a move of {v:+.0%} leaves no positive price")
        problems += [f"--funding {k}={v:g}: a rate per 8 h must be in (-{FUNDING_MAX:g}, {FUNDING_MAX:g})"
                     for k, v in fund.items() if not abs(v) < FUNDING_MAX]
        adds = []
        for p in split(add, "--add", 3, Add):
            if isinstance(p, Add):
                adds.append(p)
                continue
            size_s, at, entry_s = p[2].partition("@")
            try:
                size = _number(size_s, f"--add '{':'.join(p)}' size", False)
                # "0.5@" (an "@" and no entry) was the trade at the mark, silently (issue 9, edge fuzz)
                entry = _number(entry_s, f"--add '{':'.join(p)}' entry", False) if at else None
            except InputError as e:
                problems += e.problems
                continue
            if size == 0 or (entry is not None and not PRICE_RANGE[0] <= entry <= PRICE_RANGE[1]):
                problems.append(f"--add '{':'.join(p)}': size must be non-zero and entry in "
                                f"[{PRICE_RANGE[0]:g}, {PRICE_RANGE[1]:g}]")
                continue
            adds.append(Add(p[0].strip(), p[1].strip(), size, entry))
        reds = []
        for p in split(reduce, "--reduce", 3, Reduce):
            if isinstance(p, Reduce):
                reds.append(p)
                continue
            try:
                f = _number(p[2], f"--reduce '{':'.join(p)}' fraction")
            except InputError as e:
                problems += e.problems
                continue
            if not 0 < f <= 1:
                problems.append(f"--reduce '{':'.join(p)}': fraction must be in (0, 1] (0.5 or 50%)")
                continue
            reds.append(Reduce(p[0].strip(), p[1].strip(), f))
        tops = []
        for s in topup or ():
            if isinstance(s, TopUp):
                tops.append(s)
                continue
            acc, sep, rest = str(s).partition(":")
            asset, sep2, amount = rest.partition("=")
            try:
                if not (sep and sep2 and acc and asset):
                    raise InputError([f"--topup '{s}': expected {_FORMS['--topup']}"])
                tops.append(TopUp(acc.strip(), asset.strip().upper(), _number(amount, f"--topup '{s}' amount", False)))
            except InputError as e:
                problems += e.problems
        years = 0.0
        if time:
            try:
                years = parse_horizon(time) if isinstance(time, str) else float(time)
            except InputError as e:
                problems += [f"--time: {p}" for p in e.problems]
            else:      # '9999999999999999999d' parsed, then overflowed the as-of date: a traceback (issue 9)
                from liqrisk.io import limits
                lim = limits.current()
                if not years * 365 <= lim.max_horizon_days * (1 + 1e-12):     # 366d: 366.00000000000006
                    problems.append(lim.exceeded("max_horizon_days", f"--time {years * 365:g} days", "a shorter --time"))
        if problems:
            raise InputError(problems)
        return cls(shocks, vols, years, tuple(adds), tuple(reds), tuple(tops), fund)

    def describe(self) -> list[str]:
        """One line per change, as a user would say it."""
        out = [f"add {a.size:+g} {a.symbol} to '{a.account}'" + (f" at {a.entry:g}" if a.entry else " at the mark")
               for a in self.add]
        out += [f"reduce {r.symbol} in '{r.account}' by {r.fraction:.0%}" for r in self.reduce]
        out += [f"top up '{t.account}' {t.asset} by {t.amount:g}" for t in self.topup]
        out += [f"{k} {v:+.2%}" for k, v in self.shock.items()]
        out += [f"{k} vol {v:+.2f}" for k, v in self.vol.items()]
        if self.time_years:
            out.append(f"{self.time_years * 365:g} days pass (funding settled)")
        return out


_FORMS = {"--add": "ACCOUNT:SYMBOL:SIZE[@ENTRY], e.g. binance-main:BTCUSDT:-0.5",
          "--reduce": "ACCOUNT:SYMBOL:FRACTION, e.g. binance-main:BTCUSDT:50%",
          "--topup": "ACCOUNT:ASSET=AMOUNT (a currency, or an isolated position's symbol), e.g. binance-main:USDT=5000"}


def _account_index(pf: Portfolio, account_id: str, flag: str) -> int:
    for i, a in enumerate(pf.accounts):
        if a.id == account_id:
            return i
    raise InputError([f"{flag}: no account '{account_id}' (accounts: {', '.join(a.id for a in pf.accounts)})"])


def _matches(pos: Position, symbol: str, rules) -> bool:
    s = symbol.upper()
    return (pos.symbol or "").upper() == s or (pos.symbol is None and (pos.underlying or "").upper() == s)


def _credit(acc: Account, currency: str, amount: float) -> Account:
    """The account with ``amount`` more ``currency`` in its cross wallet."""
    coll = list(acc.collateral)
    for k, c in enumerate(coll):
        if c.currency == currency:
            coll[k] = replace(c, amount=c.amount + amount)
            return replace(acc, collateral=tuple(coll))
    return replace(acc, collateral=tuple(coll) + (Collateral(currency, amount),))


def _supply(acc: Account, asset: str, units: float) -> Account:
    """The loan account with ``units`` more ``asset`` supplied."""
    return replace(acc, supplied=_added(acc.supplied, asset, units))


def _repay(acc: Account, asset: str, units: float) -> Account:
    """The loan account with ``units`` of its ``asset`` debt repaid (a debt repaid in full leaves it)."""
    return replace(acc, borrowed=_added(acc.borrowed, asset, -units))


def _added(items: tuple[Collateral, ...], asset: str, units: float) -> tuple[Collateral, ...]:
    """``items`` with ``units`` added to ``asset``'s amount (a new entry if absent; an entry at 0
    or below, to rounding, is dropped)."""
    out, found = [], False
    for c in items:
        if c.currency == asset:
            found, c = True, replace(c, amount=c.amount + units)
            if c.amount <= 1e-12 * abs(units):
                continue
        out.append(c)
    return tuple(out) if found else tuple(out) + (Collateral(asset, units),)


def apply(pf: Portfolio, ch: Changes) -> tuple[Portfolio, list[str]]:
    """The changed portfolio (a new object) and notes on what was settled."""
    from liqrisk.margin.account import CompiledPortfolio
    from liqrisk.margin.registry import rule_set_for
    notes: list[str] = []
    accounts = list(pf.accounts)
    reduces, adds = _net_adds(pf, ch)
    if reduces:
        margins = CompiledPortfolio(pf).margin_results()
    cuts: dict[int, dict[int, float]] = {}
    for r in reduces:
        i = _account_index(pf, r.account, "--reduce")
        acc, rules = accounts[i], rule_set_for(accounts[i].venue)
        hits = [r.index] if r.index is not None else [k for k, p in enumerate(acc.positions)
                                                      if _matches(p, r.symbol, rules)]
        if not hits:
            raise InputError([f"--reduce: account '{acc.id}' holds no position '{r.symbol}'"])
        for k in hits:
            kept = (1 - cuts.setdefault(i, {}).get(k, 0.0)) * (1 - r.fraction)
            cuts[i][k] = 1 - kept
    for i, cut in cuts.items():
        acc = accounts[i]
        settlement = rule_set_for(acc.venue).settlement_currency(acc)
        positions = list(acc.positions)
        for k, f in cut.items():
            pos, pm = acc.positions[k], margins[i].positions[k]
            acc = _credit(acc, settlement, f * pm.unrealized_pnl + (f * pos.margin if pos.margin else 0.0))
            positions[k] = None if f >= 1 else replace(
                pos, size=pos.size * (1 - f), margin=pos.margin * (1 - f) if pos.margin else None)
        accounts[i] = replace(acc, positions=tuple(p for p in positions if p is not None))
    for a in adds:
        i = _account_index(pf, a.account, "--add")
        acc = accounts[i]
        pos = a.position or _new_position(pf, acc, a)
        same = [k for k, p in enumerate(acc.positions) if a.position is None and _nettable(p, pos)]
        if same:
            positions = list(acc.positions)
            positions[same[0]] = _averaged(positions[same[0]], pos, rule_set_for(acc.venue))
            accounts[i] = replace(acc, positions=tuple(positions))
        else:
            accounts[i] = replace(acc, positions=acc.positions + (pos,))
    for t in ch.topup:
        i = _account_index(pf, t.account, "--topup")
        acc, rules = accounts[i], rule_set_for(accounts[i].venue)
        iso = [k for k, p in enumerate(acc.positions) if p.margin is not None and _matches(p, t.asset, rules)]
        if iso:
            positions = list(acc.positions)
            for k in iso:
                positions[k] = replace(positions[k], margin=positions[k].margin + t.amount)
            accounts[i] = replace(acc, positions=tuple(positions))
        elif pf.price(t.asset) is None:
            raise InputError([f"--topup: '{t.asset}' is neither a priced currency nor an isolated position of '{acc.id}'"])
        elif rules.is_loan:              # a lending protocol's collateral is what is supplied
            accounts[i] = _supply(acc, t.asset, t.amount)
        else:
            accounts[i] = _credit(acc, t.asset, t.amount)
    market = _moved_market(pf, ch)
    if ch.time_years:
        accounts, paid = _settle_funding(pf, accounts, market, ch)
        notes += paid
        try:
            end = pf.as_of + timedelta(days=ch.time_years * 365)
        except OverflowError:     # a limit raised past the calendar (year 9999)
            raise InputError([f"--time {ch.time_years * 365:g} days: beyond the last date Python's calendar "
                              "holds (9999-12-31)"]) from None
        for acc in accounts:
            for n, p in enumerate(acc.positions, 1):
                if p.expiry is not None and p.expiry <= end:
                    raise InputError([f"--time: account '{acc.id}', position {n} ({p.symbol or p.underlying}) "
                                      f"expires before {end.isoformat()}"])
        market = replace(market, as_of=end)
    out = Portfolio(market, tuple(accounts))
    _validate(out, ch)
    return out, notes


def _nettable(p: Position, new: Position) -> bool:
    """One-way mode: a trade on a contract already held adds to that position (the same symbol;
    a position given without one, by its underlying, nets with a trade on that underlying)."""
    return (p.kind == new.kind and p.expiry is None and p.position_side in (None, "both")
            and (p.symbol or "").upper() == (new.symbol or "").upper()
            and (p.symbol is not None or (p.underlying or "").upper() == (new.underlying or "").upper()))


def _instrument(acc: Account, a: Add) -> Instrument:
    """What ``--add`` trades: the contract of a held position it names (by symbol, or by the
    underlying of one given without a symbol), else a new one on ``a.symbol``."""
    held = [p for p in acc.positions if p.kind == a.kind and p.expiry is None and _matches(p, a.symbol, None)]
    return held[0].instrument if held else Instrument(a.kind, a.symbol)


def _net_adds(pf: Portfolio, ch: Changes) -> tuple[list[Reduce], list[Add]]:
    """An ``add`` against a held position (opposite sign, one-way mode) is a reduction of it, and
    what exceeds it opens a new position of the other sign."""
    reduces, adds = list(ch.reduce), []
    for a in ch.add:
        acc = pf.accounts[_account_index(pf, a.account, "--add")]
        held = [p for p in acc.positions if a.position is None and _nettable(p, Position(_instrument(acc, a), a.size))]
        if not held or held[0].size * a.size > 0:
            adds.append(a)
            continue
        f = min(1.0, abs(a.size) / abs(held[0].size))
        if f > 1 - 1e-9:
            f = 1.0                        # closes it (a delta-neutral size off by rounding)
        reduces.append(Reduce(a.account, a.symbol, f))
        rest = a.size + held[0].size
        if f >= 1 and abs(rest) > 1e-9 * abs(a.size):
            adds.append(replace(a, size=rest))
    return reduces, adds


def _averaged(p: Position, new: Position, rules) -> Position:
    """``p`` grown by ``new`` (same sign): size-weighted entry (harmonic for inverse contracts),
    isolated margins added."""
    from liqrisk.margin.base import LINEAR
    q = p.size + new.size
    if rules.contract_of(p) == LINEAR:
        entry = (p.size * p.entry + new.size * new.entry) / q
    else:
        entry = q / (p.size / p.entry + new.size / new.entry)
    margin = None if p.margin is None else p.margin + (new.margin or 0.0)
    return replace(p, size=q, entry=entry, margin=margin)


def _new_position(pf: Portfolio, acc: Account, a: Add) -> Position:
    """A perp on ``a.symbol`` at ``a.entry`` (default: its underlying's mark now); in an
    isolated account with the margin of the account's leverage (default: the venue's)."""
    from liqrisk.margin.registry import rule_set_for
    rules = rule_set_for(acc.venue)
    inst = _instrument(acc, a)
    und = rules.underlying_of(Position(inst, a.size))
    mark = pf.price(und)
    if mark is None:
        raise InputError([f"--add {a.symbol}: no market entry for underlying '{und}'"])
    entry = a.entry or mark
    margin = None
    if acc.mode == "isolated":
        lev = acc.leverage or rules.params.default_leverage
        notional = abs(a.size) * entry if rules.contract_of(Position(inst, a.size)) == 0 else abs(a.size) / entry
        margin = notional / lev
    return Position(inst, a.size, entry, margin=margin)


def shifted_quote(q: Quote, shift: float, name: str) -> Quote:
    """The quote with every implied vol moved by ``shift`` (flat, term, smile or chain surface)."""
    from liqrisk.dynamics.smile import FlatVol, SmileSurface, TermVol, vol_model_from_market
    if q.vol is None:
        raise InputError([f"--vol {name}: the market block gives no vol for {name}"])
    model = vol_model_from_market(q.vol_block())
    if isinstance(model, FlatVol):
        vols, block = [float(model.vol(1.0, 1.0))], lambda v: v[0]
    elif isinstance(model, TermVol):
        vols = model.vols.tolist()
        block = lambda v: {"term": {"expiry_years": model.expiries.tolist(), "vol": v}}
    elif isinstance(model, SmileSurface):
        vols = [v for s in model.slices for v in s.vols]
        sizes = [len(s.vols) for s in model.slices]

        def block(v):
            out, k = [], 0
            for s, n in zip(model.slices, sizes):
                out.append({"expiry_years": s.expiry_years, "forward": s.forward, "strikes": s.strikes.tolist(),
                            "vols": v[k:k + n]})
                k += n
            return {"smile": out}
    else:
        raise InputError([f"--vol {name}: cannot shift a {type(model).__name__}"])
    moved = [v + shift for v in vols]
    if min(moved) <= 0:
        raise InputError([f"--vol {name}={shift:+g}: leaves a vol ≤ 0 (lowest quoted {min(vols):g})"])
    if max(moved) > VOL_RANGE[1]:
        raise InputError([f"--vol {name}={shift:+g}: gives a vol of {max(moved):g}, above the supported {VOL_RANGE[1]:g}"])
    return Quote(q.mark, q.index, block(moved))


def _moved_market(pf: Portfolio, ch: Changes):
    m = pf.market
    quotes = dict(m.quotes)
    for name, move in ch.shock.items():
        if name not in quotes:
            raise InputError([f"--shock {name}: not in the market block ({', '.join(quotes)})"])
        q = quotes[name]
        mark = q.mark * (1 + move)
        if not PRICE_RANGE[0] <= mark <= PRICE_RANGE[1]:
            raise InputError([f"--shock {name}={100 * move:+g}%: moves the mark {q.mark:g} to {mark:g}, outside "
                              f"[{PRICE_RANGE[0]:g}, {PRICE_RANGE[1]:g}]"])
        quotes[name] = Quote(mark, None if q.index is None else q.index * (1 + move), q.vol)
    for name, shift in ch.vol.items():
        if name not in quotes:
            raise InputError([f"--vol {name}: not in the market block ({', '.join(quotes)})"])
        quotes[name] = shifted_quote(quotes[name], shift, name)
    return replace(m, quotes=quotes)


def _settle_funding(pf: Portfolio, accounts: list[Account], market, ch: Changes):
    """Funding paid by every perp over ``ch.time_years`` (module docstring)."""
    from liqrisk.advise.funding import model_of
    from liqrisk.margin.base import LINEAR
    from liqrisk.margin.registry import rule_set_for
    rates = {**market.funding, **ch.funding}
    hours = ch.time_years * 365 * 24
    out, notes = [], []
    for acc in accounts:
        rules = rule_set_for(acc.venue)
        settlement = rules.settlement_currency(acc)
        positions = list(acc.positions)
        for k, pos in enumerate(acc.positions):
            und = rules.underlying_of(pos)
            if pos.kind != "perp" or not rates.get(und):
                continue
            mark = market.quotes[und].mark
            c = model_of(rates[und], rules.name, pf.as_of, market.quotes[und].index or mark).cumulative(hours)
            pay = pos.size * mark * c if rules.contract_of(pos) == LINEAR else pos.size / mark * c
            if pay == 0:
                continue
            if pos.margin is not None:
                positions[k] = replace(pos, margin=pos.margin - pay)
                if positions[k].margin <= 0:
                    raise InputError([f"--time: account '{acc.id}', {pos.symbol}: funding of {pay:g} {settlement} "
                                      f"exhausts its isolated margin {pos.margin:g}"])
            else:
                acc = _credit(acc, settlement, -pay)
            notes.append(f"account '{acc.id}', {pos.symbol or und}: funding {'paid' if pay > 0 else 'received'} "
                         f"{abs(pay):.6g} {settlement} ({c:.4%} over {hours:g} h)")
        out.append(replace(acc, positions=tuple(positions)))
    return out, notes


def _validate(pf: Portfolio, ch: Changes) -> None:
    """What the venue would refuse in a changed account (the rule set's own checks)."""
    from liqrisk.margin.registry import rule_set_for
    problems = []
    touched = {c.account for c in (*ch.add, *ch.reduce, *ch.topup)}
    for acc in pf.accounts:
        if acc.id not in touched:
            continue
        rules = rule_set_for(acc.venue)
        problems += [f"account '{acc.id}' after the change, {p}" for p in rules.account_problems(acc)]
        for n, pos in enumerate(acc.positions, 1):
            if pos.size == 0 or not math.isfinite(pos.size):
                problems.append(f"account '{acc.id}', position {n}: size must be non-zero")
            for msg, fld in rules.position_problems(pos, acc):
                problems.append(f"account '{acc.id}', position {n} ({pos.symbol or pos.underlying}), field '{fld}': {msg}")
            und = rules.underlying_of(pos)
            if und not in pf.market.quotes:
                problems.append(f"account '{acc.id}', position {n} ({pos.symbol}): no market entry for '{und}'")
    if problems:
        raise InputError(problems)
