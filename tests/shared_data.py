"""Data shared between projects, kept beside the clone in ``../shared`` (not in this repository).

A test that needs it calls :func:`require_shared`: on a developer's machine without the folder
the test is skipped with the reason; in CI (``CI=true``, where a copy of ``shared/`` sits beside
the clone) a missing file is a failure, so the tests can never be skipped there unnoticed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``../shared`` relative to the repository root."""
    return REPO_ROOT.parent / "shared"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_shared(relative: str | Path) -> Path:
    """The path of ``relative`` inside :func:`shared_dir`; skip (fail in CI) when missing."""
    path = shared_dir() / relative
    if not path.exists():
        reason = (
            f"shared test data {path} is missing: put a copy of the shared/ folder "
            f"beside the repository ({shared_dir()})"
        )
        if in_ci():
            pytest.fail(f"{reason} (CI=true: shared data is required)", pytrace=False)
        pytest.skip(reason)
    return path


def trackingmore_sample(name: str) -> Any:
    """A TrackingMore sample payload from ``../shared/samples/trackingmore``, parsed."""
    path = require_shared(Path("samples") / "trackingmore" / name)
    return json.loads(path.read_text(encoding="utf-8"))
