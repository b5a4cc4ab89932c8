"""The MINIMARIA_ settings chat/settings.py reads, found in its source: a deployment file that sets any other
name is a typo the service would silently ignore."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_read() -> set[str]:
    source = (ROOT / "chat" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'PREFIX \+ "([A-Z_]+)"', source)) | set(re.findall(r'\(env, "([A-Z_]+)"', source))
    return {"MINIMARIA_" + name for name in names}
