"""Risk layer: liquidation probabilities (closed form and Monte Carlo), calibration."""
