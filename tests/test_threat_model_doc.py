"""docs/threat-model.md stays true: every test it names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
REF = re.compile(r"`(test_\w+\.py)((?:::\w+)?)`|`::(test_\w+)`")


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    missing, current, named = [], "", 0
    for m in REF.finditer(text):
        if m.group(1):  # `file.py` or `file.py::test`
            current = m.group(1)
            path = ROOT / "tests" / current
            if not path.exists():
                missing.append(current)
                continue
            name = m.group(2).removeprefix("::")
        else:  # `::test` continues the file named last
            name = m.group(3)
        if name:
            named += 1
            if not re.search(
                rf"^(async )?def {name}\(", (ROOT / "tests" / current).read_text(), re.M
            ):
                missing.append(f"{current}::{name}")
    assert named > 40 and not missing, missing
