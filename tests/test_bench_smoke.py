"""The benchmarks still run: `python -m bench --quick` completes and prints every row.

Only that. Its figures are timing, and timing never decides a test (BENCHMARKS.md has them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import JUDGED_AT_QUICK_SIZES, NOT_JUDGED, PARTS

# Half a minute of benchmarks at tiny sizes: the full run's, not the everyday one's.
pytestmark = [pytest.mark.e2e, pytest.mark.full]

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_quick_bench_completes_and_prints_every_row() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    printed = {line.split(" | ")[0].removeprefix("| ") for line in rows}
    expected = {what for whats, _ in PARTS.values() for what in whats}
    assert expected <= printed, f"missing rows: {expected - printed}\n{result.stdout}"
    assert "ERROR" not in result.stdout
    # Rates, CPU and memory at tiny sizes are not judged (neither "ok" nor "OFF TARGET").
    for line in rows[1:]:
        what, verdict = line.split(" | ")[0].removeprefix("| "), line.split(" | ")[-1]
        if what in expected - JUDGED_AT_QUICK_SIZES:
            assert verdict.removesuffix(" |") == NOT_JUDGED, line
