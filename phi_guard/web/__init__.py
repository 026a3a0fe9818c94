"""The web page and HTTP API: a thin layer over the library (``create_app``)."""
from .app import create_app

__all__ = ["create_app"]
