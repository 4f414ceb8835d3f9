"""Renderers: one result object → JSON / rich terminal / HTML. Nothing is computed here."""
