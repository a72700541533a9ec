"""Loads the reference app (../shared/reference/seed-service.py, written for pydantic 2) on
Debian bookworm's pydantic 1.10, unmodified, for bench/run.sh:

  python3 -m uvicorn --app-dir bench reference_shim:app

The one incompatibility: `Field(..., min_length=1)` on a list, which pydantic 1 spells
`min_items` (and refuses `min_length` on a list at class creation). The reference has no other
`Field(...)`, so the shim maps `min_length` to `min_items` while the module loads, then puts
pydantic.Field back. Everything else (FastAPI routes, `model_config = {"extra": "allow"}`,
which pydantic 1 ignores as it ignores extra fields by default) runs as written.
REFERENCE_APP overrides the path of the reference file."""
import importlib.util
import os

import pydantic

PATH = os.environ.get("REFERENCE_APP") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference", "seed-service.py")

_field = pydantic.Field


def _field_v2_spelling(*args, min_length=None, **kwargs):
    if min_length is not None:
        kwargs["min_items"] = min_length
    return _field(*args, **kwargs)


pydantic.Field = _field_v2_spelling
try:
    _spec = importlib.util.spec_from_file_location("seed_service", PATH)
    seed_service = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(seed_service)
finally:
    pydantic.Field = _field

app = seed_service.app
