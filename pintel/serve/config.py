"""Where ``pintel serve`` listens and what it reads, from options or the environment (see .env.example).

``PINTEL_SERVE_HOST`` (127.0.0.1), ``PINTEL_SERVE_PORT`` (8000), ``PINTEL_SERVE_REFRESH_SECONDS`` (1: the most a
flag change waits before it is served), ``PINTEL_API_TOKEN`` (bearer token for write endpoints; none = writes off).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pintel.act.flags import snapshot_path
from pintel.settings import Settings


@dataclass(frozen=True)
class ServeConfig:
    warehouse: Path
    flags_file: Path
    reports: Path = Path("reports")
    host: str = "127.0.0.1"
    port: int = 8000
    refresh_seconds: float = 1.0
    api_token: str | None = None

    @classmethod
    def from_env(
        cls,
        warehouse: str | Path | None = None,
        host: str | None = None,
        port: int | None = None,
        refresh_seconds: float | None = None,
    ) -> ServeConfig:
        settings = Settings.from_env(warehouse=warehouse)
        return cls(
            warehouse=settings.warehouse,
            flags_file=snapshot_path(settings.warehouse),
            reports=settings.reports,
            host=host or os.environ.get("PINTEL_SERVE_HOST", "127.0.0.1"),
            port=int(port or os.environ.get("PINTEL_SERVE_PORT", 8000)),
            refresh_seconds=float(refresh_seconds or os.environ.get("PINTEL_SERVE_REFRESH_SECONDS", 1.0)),
            api_token=os.environ.get("PINTEL_API_TOKEN") or None,
        )
