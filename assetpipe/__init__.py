"""assetpipe: build-time asset optimisation for a finished frontend build."""

__version__ = "0.1.0"
