"""``pintel serve``: FastAPI + uvicorn, read-only by default; see :mod:`pintel.serve.app`."""

from pintel.serve.app import ROUTERS, create_app, serve
from pintel.serve.config import ServeConfig

__all__ = ["ROUTERS", "ServeConfig", "create_app", "serve"]
