"""What one request may cost (checked before any work; a breach is a 413 or 422 that says which
limit and by how much). Defaults suit a 2-core machine; ``liqrisk serve`` can raise them."""
from __future__ import annotations

from dataclasses import dataclass

from liqrisk.analysis import parse_horizon


NO_FUNDING_FILE = ("the service reads no files; give the funding as a rate per 8 h (a number) or "
                   "{impact_bid, impact_ask}")


class LimitError(ValueError):
    """A request over a limit: ``field`` is the offending input, ``status`` 413 or 422."""

    def __init__(self, field: str, message: str, status: int = 422):
        self.field, self.status = field, status
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 2_000_000          # request body
    body_depth: int = 20                 # nesting of a JSON body's objects and arrays
    accounts: int = 100                  # accounts per portfolio
    positions: int = 2_000               # positions per portfolio, all accounts
    paths: int = 200_000                 # Monte Carlo paths per account
    horizons: int = 8
    horizon_years: float = 1.0           # longest probability horizon
    path_steps: float = 5e8              # paths × simulation steps × accounts of one analysis
    cascade_accounts: int = 300_000      # synthetic population of a cascade job
    cascade_steps: int = 5_000
    sweep_points: int = 400
    job_seconds: float = 600.0           # a cascade job is stopped after this long
    jobs_queued: int = 8                 # cascade jobs queued or running at once

    def check_portfolio(self, doc: dict) -> None:
        accounts = doc.get("accounts") if isinstance(doc, dict) else None
        if isinstance(accounts, list):
            if len(accounts) > self.accounts:
                raise LimitError("accounts", f"{len(accounts)} accounts; at most {self.accounts} per request")
            n = sum(len(a.get("positions") or []) for a in accounts if isinstance(a, dict)
                    and isinstance(a.get("positions"), list))
            if n > self.positions:
                raise LimitError("accounts.positions", f"{n} positions; at most {self.positions} per request")
        market = doc.get("market") if isinstance(doc, dict) else None
        for name, block in (market or {}).items() if isinstance(market, dict) else ():
            if isinstance(block, dict) and "chain_csv" in block:
                raise LimitError(f"market.{name}.chain_csv", "the service reads no files; give the smile "
                                 "inline as market.<underlying>.smile")
            if isinstance(block, dict) and isinstance(block.get("funding"), dict) and "csv" in block["funding"]:
                raise LimitError(f"market.{name}.funding.csv", NO_FUNDING_FILE)

    def check_probability(self, horizons: list[str], paths: int, n_accounts: int, extra_paths: int = 0) -> None:
        """Cost of the Monte Carlo: paths × steps (1 h, or a quarter of the shortest horizon);
        ``extra_paths`` per account on top (the other models of a model range)."""
        if not horizons:
            return
        if len(horizons) > self.horizons:
            raise LimitError("horizon", f"{len(horizons)} horizons; at most {self.horizons}")
        if paths > self.paths:
            raise LimitError("paths", f"{paths:,} paths; at most {self.paths:,}")
        years = [parse_horizon(h) for h in horizons]
        if max(years) > self.horizon_years:
            raise LimitError("horizon", f"{horizons[years.index(max(years))]} is longer than "
                             f"{self.horizon_years * 365:g}d")
        steps = max(years) / min(1 / (365 * 24), min(years) / 4)
        work = (paths + extra_paths) * steps * max(n_accounts, 1)
        if work > self.path_steps:
            counted = f"({paths:,} + {extra_paths:,} model-range) paths" if extra_paths else f"{paths:,} paths"
            raise LimitError("paths", f"{counted} × {steps:,.0f} steps × {n_accounts} accounts = "
                             f"{work:.3g} path-steps exceeds the run-time budget {self.path_steps:.3g}; "
                             "use fewer paths or a shorter horizon")
