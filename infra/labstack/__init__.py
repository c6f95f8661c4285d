"""labstack: a local AWS emulator that really runs builds, deployments and pipelines."""

__version__ = "0.1.0"
