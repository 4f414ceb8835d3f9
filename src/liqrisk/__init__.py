"""liqrisk: liquidation risk of crypto derivatives portfolios."""
__version__ = "0.1.0"
