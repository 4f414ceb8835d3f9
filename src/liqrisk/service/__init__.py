"""The liqrisk service: REST API, dashboard, storage and cascade jobs (the ``web`` extra)."""
from liqrisk.service.app import create_app

__all__ = ["create_app"]
