"""The HTTP API for lenders' systems, under ``/v1/``."""
