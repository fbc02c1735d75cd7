"""The README's config table is generated from the config model: it cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import reference_table

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_config_table_matches_the_model():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- config-table:start -->\n(.*?)\n<!-- config-table:end -->", text, re.S)
    assert found, "README lost its config-table markers"
    assert found.group(1) == reference_table(), (
        "run: python -c 'from bot.config import "
        "reference_table; print(reference_table())' and paste it into README.md"
    )


def test_readme_gives_the_two_commands_that_exist():
    text = README.read_text(encoding="utf-8")
    root = README.parent
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        assert script in text
        assert (root / script).stat().st_mode & 0o111, f"{script} is not executable"
    assert "scripts/test.sh" in (root / ".ci" / "run").read_text()
