"""Liquidity: order-book walk, synthetic books, impact models, Almgren-Chriss, LVaR, exit cost."""
