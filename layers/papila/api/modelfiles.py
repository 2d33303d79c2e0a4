"""Files that belong to the model card and are served as they are: the card's plots (ROC curves,
calibration, CDR against the experts), `GET /api/model/plots/{name}` (the installed model's here; a
registered version's come from the registry, read by `papila.api.screenings`).

Only the PNGs the card lists under `"plots": {"roc": "roc.png", ...}` in `model.json`, read from the folder
of MODEL_PATH, are served: a name must be one of those values and a plain file name (no folder, no
dot-dot), so no request can reach any other file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from papila.api.errors import ApiError
from papila.config import Settings

PNG = "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.png")
NOT_FOUND = "The model card lists no plot of this name."


def listed_plots(card: dict[str, Any]) -> dict[str, str]:
    """The card's plots (key -> file name), keeping only plain PNG file names."""
    plots = card.get("plots")
    if not isinstance(plots, dict):
        return {}
    return {str(k): v for k, v in plots.items() if isinstance(v, str) and PLOT_NAME.fullmatch(v) and ".." not in v}


def listed_name(name: str, card: dict[str, Any]) -> str:
    """`name` when it is a plain PNG name the card lists; ApiError 404 otherwise."""
    if not PLOT_NAME.fullmatch(name or "") or ".." in name or name not in listed_plots(card).values():
        raise ApiError(404, "not_found", NOT_FOUND)
    return name


def plot_file(name: str, model_path: Path | None = None) -> Path:
    """The file of a listed plot; ApiError 404 for anything else, 503 when no model is installed."""
    from papila.model.serving.card import load_card

    model_path = Path(model_path or Settings.from_env().model_path)
    if not PLOT_NAME.fullmatch(name or "") or ".." in name:
        raise ApiError(404, "not_found", NOT_FOUND)
    try:
        card = load_card(model_path)
    except FileNotFoundError:
        raise ApiError(503, "model_unavailable", "No trained model is installed yet.") from None
    if name not in listed_plots(card).values():
        raise ApiError(404, "not_found", NOT_FOUND)
    folder = model_path.parent.resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise ApiError(404, "not_found", NOT_FOUND)
    return path


def plot_png(name: str, model_path: Path | None = None) -> tuple[bytes, dict[str, str]]:
    """The installed model's plot: its bytes and response headers."""
    return png_reply(plot_file(name, model_path).read_bytes())


def png_reply(data: bytes | None) -> tuple[bytes, dict[str, str]]:
    """A plot's bytes and response headers (PNG, cacheable for a while: a new model brings new plots);
    ApiError 404 when it is missing or not a PNG."""
    if data is None or not data.startswith(PNG_SIGNATURE):
        raise ApiError(404, "not_found", NOT_FOUND)
    return data, {"Content-Type": PNG, "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
