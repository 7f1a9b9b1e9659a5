"""The package's types come from proto/ and catch mistakes: mypy --strict on typical use, and on
a file of mistakes that must each be reported."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typing"

mypy = pytest.importorskip("mypy", reason="test.sh installs mypy; run it for the typing checks")


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """One mypy --strict run over both files (mypy is slow to start)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "--hide-error-context", "good.py", "bad.py"],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    assert "error: " in result.stdout or result.returncode == 0, result.stderr
    return result.stdout


def test_typical_use_type_checks_under_strict(mypy_output):
    assert "good.py" not in mypy_output, mypy_output


def test_every_marked_mistake_is_reported(mypy_output):
    source = (HERE / "bad.py").read_text().splitlines()
    expected = {number for number, line in enumerate(source, start=1) if line.endswith("# error")}
    reported = {int(match) for match in re.findall(r"bad\.py:(\d+): error", mypy_output)}
    assert expected and expected <= reported, mypy_output
