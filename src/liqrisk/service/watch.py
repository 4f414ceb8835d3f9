"""Watching a portfolio: re-evaluate when its file (or saved document) or the market snapshot
changes, store every evaluation as a run, and fire each alert rule once per crossing.

Rules: ``p(H) OP X[%]`` (probability of liquidation within horizon H) or ``margin_ratio OP X[%]``,
OP one of ``>= > <= <``, per account. A rule fires when it becomes true for an account (false
or unknown before) and re-arms when it becomes false; the previous state comes from the last
stored evaluation of the same source, so a restarted watcher does not fire again. A webhook gets
one JSON POST per firing (no retry; the delivery status is stored with the alert).
"""
from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from liqrisk.analysis import ProbabilitySettings, analyze_document, parse_horizon
from liqrisk.io.portfolio import InputError
from liqrisk.service.store import Store

_RULE = re.compile(r"^\s*(?:p\(\s*(?P<h>[^)]+?)\s*\)|(?P<ratio>margin_ratio))\s*(?P<op>>=|<=|>|<)\s*"
                   r"(?P<v>[0-9.]+(?:e-?\d+)?)\s*(?P<pct>%?)\s*$", re.IGNORECASE)
_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


@dataclass(frozen=True)
class Rule:
    text: str
    horizon: str | None      # None: margin_ratio
    op: str
    threshold: float

    def value(self, account: dict) -> float | None:
        if self.horizon is None:
            return account.get("margin_ratio")
        block = (account.get("probability") or {}).get(self.horizon)
        return None if block is None else block.get("p")

    def holds(self, account: dict) -> bool:
        v = self.value(account)
        return v is not None and _OPS[self.op](v, self.threshold)


def parse_rule(text: str) -> Rule:
    m = _RULE.match(text)
    if not m:
        raise InputError([f"--alert '{text}': expected p(HORIZON)>=X% or margin_ratio>=X% (ops >= > <= <)"])
    value = float(m.group("v")) / (100.0 if m.group("pct") else 1.0)
    horizon = None if m.group("ratio") else m.group("h")
    if horizon is not None:
        parse_horizon(horizon)
    if not 0 <= value <= 1e6:
        raise InputError([f"--alert '{text}': threshold out of range"])
    return Rule(text.strip(), horizon, m.group("op"), value)


def parse_duration(text: str) -> float:
    """'60s', '5m', '1h', '250ms' → seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise InputError([f"--every '{text}': expected a positive duration such as 60s, 5m, 1h"])
    return float(m.group(1)) * {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]


class Watcher:
    """One watched portfolio: a file path or a saved portfolio id, plus an optional market file
    whose blocks replace the portfolio's market entries of the same underlyings."""

    def __init__(self, store: Store, target: str | int, rules: list[Rule], paths: int = 5000, seed: int = 7,
                 market: str | None = None, webhook: str | None = None, timeout: float = 10.0,
                 fhs_tails: str = "gpd"):
        self.store, self.rules, self.paths, self.seed = store, rules, paths, seed
        self.fhs_tails = fhs_tails          # the fhs shocks' tails (analyze --fhs-tails)
        self.market, self.webhook, self.timeout = market, webhook, timeout
        self.portfolio_id = target if isinstance(target, int) else None
        self.source = None if self.portfolio_id is not None else str(Path(target).resolve())
        self.fingerprint: str | None = None
        self.state = self._last_state()

    def _last_state(self) -> dict:
        last = next(iter(self.store.runs(self.portfolio_id, self.source, limit=1, kind="watch")), None)
        if last is None or not last.result:
            return {}
        return {(rule.text, a["id"]): rule.holds(a) for rule in self.rules for a in last.result.get("accounts", [])}

    def _read(self) -> tuple[dict, bytes]:
        if self.portfolio_id is not None:
            p = self.store.portfolio(self.portfolio_id)
            if p is None:
                raise InputError([f"portfolio {self.portfolio_id}: not in the database"])
            doc, raw = p.document, json.dumps(p.document, sort_keys=True).encode()
        else:
            from liqrisk.io.portfolio import read_document
            raw = Path(self.source).read_bytes()
            doc = read_document(self.source)
        if self.market:
            mraw = Path(self.market).read_bytes()
            snap = yaml.safe_load(mraw)
            if not isinstance(snap, dict):
                raise InputError([f"{self.market}: expected a mapping underlying → {{mark, vol, …}}"])
            from liqrisk.io.portfolio import upper_keys    # a snapshot's btc replaces the file's BTC
            base, problems = upper_keys(doc.get("market") if isinstance(doc.get("market"), dict) else {},
                                        "field 'market'")
            snap, more = upper_keys(snap, f"{self.market}")
            if problems + more:
                raise InputError(problems + more)
            doc = {**doc, "market": {**base, **snap}}
            raw += b"\0" + mraw
        return doc, raw

    def check(self) -> dict | None:
        """Evaluate if anything changed: ``{"run": id, "alerts": [...]}``, else None."""
        doc, raw = self._read()
        fp = hashlib.sha256(raw).hexdigest()
        if fp == self.fingerprint:
            return None
        self.fingerprint = fp
        horizons = sorted({r.horizon for r in self.rules if r.horizon}, key=parse_horizon)
        prob = ProbabilitySettings(horizons, self.paths, self.seed, fhs_tails=self.fhs_tails) if horizons else None
        data = analyze_document(doc, prob)[1]
        options = {"paths": self.paths, "seed": self.seed, "horizon": horizons, "fhs_tails": self.fhs_tails,
                   "rules": [r.text for r in self.rules]}
        inputs = json.loads(json.dumps(doc, default=str))
        run = self.store.add_run("watch", inputs, options, data, portfolio_id=self.portfolio_id, source=self.source)
        fired = []
        for rule in self.rules:
            for a in data["accounts"]:
                key, now = (rule.text, a["id"]), rule.holds(a)
                if now and not self.state.get(key, False):
                    fired.append(self._fire(rule, a, run.id))
                self.state[key] = now
        return {"run": run.id, "alerts": fired, "result": data}

    def _fire(self, rule: Rule, account: dict, run_id: int) -> dict:
        value = rule.value(account)
        alert = self.store.add_alert(rule.text, account["id"], value, run_id, self.portfolio_id, self.source)
        body = {"alert": rule.text, "account": account["id"], "value": value, "threshold": rule.threshold,
                "run_id": run_id, "portfolio_id": self.portfolio_id, "source": self.source,
                "fired_at": alert.to_dict()["fired_at"]}
        if self.webhook:
            status = self._post(body)
            self.store.set_delivered(alert.id, status)
            body["delivered"] = status
        return body

    def _post(self, body: dict) -> str:
        req = urllib.request.Request(self.webhook, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "liqrisk-watch"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return str(resp.status)
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            return f"failed: {getattr(e, 'reason', e)}"
