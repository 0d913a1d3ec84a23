"""How many examples a Hypothesis property tries: all of them in the full run, a fifth in the
everyday one (they are CPU-bound, and the everyday run must stay under two minutes on two
cores). `conftest.pytest_configure` says which run this is before any test module is read."""

from __future__ import annotations

import os

FULL_RUN_VARIABLE = "POSTINO_FULL_RUN"
EVERYDAY_SHARE = 5
EVERYDAY_MINIMUM = 25


def examples(full: int) -> int:
    if os.environ.get(FULL_RUN_VARIABLE) == "1":
        return full
    return min(full, max(EVERYDAY_MINIMUM, full // EVERYDAY_SHARE))
