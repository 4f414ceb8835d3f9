"""Market dynamics: what prices and volatilities do next.

Modules (import from them directly; nothing is re-exported here so that importing one model
does not load the others):

* ``ohlc``        -- load and validate OHLC bar files (``load_ohlc``, ``bundled_data_path``)
* ``volatility``  -- historical vol estimators and their rolling versions (``estimate_all``)
* ``garch``       -- GARCH / GJR-GARCH fits and forecasts, wrapping ``arch`` (``fit_garch``)
* ``smile``       -- implied vol: flat, term structure, smile surface (``vol_model_from_market``)
* ``correlation`` -- return correlations and the nearest correlation matrix
* ``paths``       -- price path generators
"""
