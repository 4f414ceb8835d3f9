"""Input files: portfolio (YAML/JSON) loading and validation."""
from liqrisk.io.portfolio import InputError, PortfolioFile, load_portfolio, parse_portfolio

__all__ = ["InputError", "PortfolioFile", "load_portfolio", "parse_portfolio"]
