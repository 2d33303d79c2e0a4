"""What every browser test launches: Debian's Chromium, with flags for this closed network."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = os.environ.get("PAPILA_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google on this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("PAPILA_E2E_ARTIFACTS", Path(__file__).resolve().parents[2] / ".run" / "e2e"))
DESKTOP = {"width": 1280, "height": 900}
