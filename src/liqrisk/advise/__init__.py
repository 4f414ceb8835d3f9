"""What to do about liquidation risk: what-if, top-up, deleveraging, hedges, sizing, funding,
and back-tests of dynamic hedging and risk policies (one module per concept)."""
