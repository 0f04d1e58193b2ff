"""Querysets compiled once per process: core.prepared (stores uses it too, so it lives in the kernel)."""

from core.prepared import Prepared

__all__ = ["Prepared"]
