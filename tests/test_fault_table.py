"""README's fault table names the tests that cover each row: they must exist, and each of issue 15's
suites must be named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fault_rows() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Faults and bad input\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| fault")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_every_row_names_what_the_user_sees_the_guarantee_and_existing_tests():
    rows = fault_rows()
    assert len(rows) >= 20
    for row in rows:
        assert len(row) == 4 and all(row), row
        named = re.findall(r"`(test_\w+)`", row[3])
        assert named, row
        for name in named:
            assert (ROOT / "tests" / f"{name}.py").exists(), f"{name} in README's fault table is not a test file"


def test_the_generated_input_and_crash_suites_are_in_the_table():
    named = {name for row in fault_rows() for name in re.findall(r"`(test_\w+)`", row[3])}
    assert {"test_corpus_readers_properties", "test_task_files_properties", "test_crash_safety",
            "test_no_empty_success", "test_cli_errors"} <= named
