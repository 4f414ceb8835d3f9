"""Output checks of an ``analyze`` document (``PortfolioAnalysis.to_dict()``), run before anything
is printed: a number the model could not compute is an error naming the account and field, never
a silently wrong number.

* equity, initial and maintenance margin are numbers (not ``null``); margins ≥ 0;
* ``liquidatable_now`` agrees with equity and MM (equity < MM ⇒ liquidatable; not liquidatable
  ⇒ equity ≥ MM — an isolated pool can be liquidatable while the account total is not);
* every probability ``p`` and its interval lie in [0, 1]; exit costs are ≥ 0 or ``null``.
"""
from __future__ import annotations

_TOL = 1e-9


def analysis_problems(doc: dict) -> list[str]:
    """One line per failed check (empty when the document passes)."""
    out = []
    for a in doc.get("accounts", []):
        where = f"account '{a.get('id')}'"
        eq, im, mm = a.get("equity"), a.get("initial_margin"), a.get("maintenance_margin")
        for name, v in (("equity", eq), ("initial_margin", im), ("maintenance_margin", mm)):
            if not isinstance(v, (int, float)):
                out.append(f"{where}, field '{name}': could not be computed (not a finite number)")
        if isinstance(im, float) and im < -_TOL * (1 + abs(im)):
            out.append(f"{where}, field 'initial_margin': {im:g} < 0")
        if isinstance(mm, float) and mm < -_TOL * (1 + abs(mm)):
            out.append(f"{where}, field 'maintenance_margin': {mm:g} < 0")
        if isinstance(eq, (int, float)) and isinstance(mm, (int, float)):
            scale = _TOL * (1 + abs(eq) + abs(mm))
            if eq < mm - scale and a.get("positions") and not a.get("liquidatable_now"):
                out.append(f"{where}, field 'liquidatable_now': false while equity {eq:g} < maintenance margin {mm:g}")
        for n, p in enumerate(a.get("positions", []), 1):
            for name in ("initial_margin", "maintenance_margin"):
                v = p.get(name)
                if not isinstance(v, (int, float)) or v < -_TOL * (1 + abs(v)):
                    out.append(f"{where}, position {n}, field '{name}': {v} is not a number ≥ 0")
        for block in ("probability", "term_structure"):
            for h, prob in (a.get(block) or {}).items():
                values = [prob.get("p"), *(prob.get("ci95") or [])]
                if any(v is not None and not -_TOL <= v <= 1 + _TOL for v in values):
                    out.append(f"{where}, field '{block}.{h}': probability {values} outside [0, 1]")
        ex = a.get("exit") or {}
        for name in ("close_now_cost", "liquidation_cost", "insurance_shortfall", "horizon_cost"):
            v = ex.get(name)
            if v is not None and v < -_TOL * (1 + abs(v)):
                out.append(f"{where}, field 'exit.{name}': {v:g} < 0")
    return out
