"""Input files: portfolio (YAML/JSON) reading and validation (:mod:`liqrisk.io.portfolio`), the
conversion to model objects (:mod:`liqrisk.io.to_model`), bounded document reading and input
limits. Nothing is imported here, so a light submodule (``liqrisk.io.limits``) does not load
pydantic."""
