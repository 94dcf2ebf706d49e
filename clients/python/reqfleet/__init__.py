"""reqfleet's Python client: requests_toolbelt's threaded API over a
reqfleet fleet (serve's HTTP API). Standard library only, Python 3.9+.

    from reqfleet import pool, threaded
"""
from . import exceptions, pool, threaded
from ._api import Client
from .models import CaseInsensitiveDict, Response

__version__ = "1.0.0"
__all__ = ["Client", "CaseInsensitiveDict", "Response", "exceptions", "pool", "threaded"]
