"""Typed results: one object per question, each with ``to_dict()`` (plain Python, JSON-safe:
non-finite numbers become ``None``), ``to_json()`` (strict JSON) and ``to_frame()`` (pandas).
The renderers (:mod:`liqrisk.report`) and every surface take these objects and compute nothing."""
from liqrisk.results.account import AccountResult, ExitResult, RiskResult
from liqrisk.results.base import Result, plain
from liqrisk.results.cascade import CascadeAnalysis
from liqrisk.results.portfolio import PortfolioAnalysis
from liqrisk.results.vol import VolAnalysis

__all__ = ["AccountResult", "CascadeAnalysis", "ExitResult", "PortfolioAnalysis", "Result", "RiskResult",
           "VolAnalysis", "plain"]
