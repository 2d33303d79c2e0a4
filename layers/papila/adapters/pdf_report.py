"""The printable one-page screening report (`GET /api/screenings/{id}/report`).

`build_report` is pure: a screening record, its images as bytes and the model card in, PDF bytes
out (fpdf2, the PDF core fonts, nothing fetched). `gather_images` and `installed_card` are the two
small reads the service does before calling it. The page is A4 with automatic page breaks off and
every free-text field capped, so the report is always exactly one page.
"""

from __future__ import annotations

import io
import math
import unicodedata
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image, ImageOps

from papila.core import keys
from papila.model.serving.card import measured_on

TITLE = "Papila glaucoma screening report"
DISCLAIMER = ("Screening aid for research and education. Not a diagnosis. "
              "Trained on RIM-ONE DL (research and educational use only).")
IMAGE_NAMES = ("original", "crop", "heatmap")

PHOTO_LONGEST_PX = 1200  # the original is downscaled to this (about 350 dpi at its printed size)
PANEL_LONGEST_PX = 448  # crop and heat map (224 px from the worker; never upscaled)
MAX_REFERRAL_CHARS = 600
MAX_NOTES_CHARS = 300
MAX_FIELD_CHARS = 100

# Layout, in millimetres on A4 portrait.
MARGIN = 15.0
PAGE_W, PAGE_H = 210.0, 297.0
WIDTH = PAGE_W - 2 * MARGIN
FOOTER_Y = PAGE_H - MARGIN - 11
PHOTO_BOX = (85.0, 64.0)
PANEL = 45.0
GAP = (WIDTH - PHOTO_BOX[0] - 2 * PANEL) / 2

INK = (30, 30, 30)
MUTED = (100, 100, 100)
RULE = (190, 190, 190)
CROP_OUTLINE = (255, 214, 0)
COLOURS = {"glaucoma": (190, 50, 40), "normal": (40, 130, 70)}

# Typography the PDF core fonts (latin-1) lack, as their nearest latin-1 spelling.
_LATIN1 = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u2022": "\u00b7", "\u00a0": " ",
    "\u2265": ">=", "\u2264": "<=", "\u2248": "~", "\u2192": "->",
})


# ---------------------------------------------------------------- small helpers


def latin1(text: Any, limit: int | None = None) -> str:
    """Text the core fonts can print: typography folded, control characters dropped, anything
    else outside latin-1 as '?', and cut at `limit` characters with an ellipsis."""
    value = unicodedata.normalize("NFC", str(text)).translate(_LATIN1)
    value = "".join(" " if ch in "\t\r\n" else ch for ch in value if ch in "\t\r\n" or unicodedata.category(ch)[0] != "C")
    value = " ".join(value.split())
    if limit is not None and len(value) > limit:
        value = value[: limit - 3].rstrip() + "..."
    return value.encode("latin-1", "replace").decode("latin-1")


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing fields, strings, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt(value: Any, digits: int = 2) -> str | None:
    v = number(value)
    return None if v is None else f"{v:.{digits}f}"


def when(value: Any) -> str | None:
    """A stored datetime (naive ones are UTC) or ISO string as 'YYYY-MM-DD HH:MM UTC'."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return latin1(value, 40)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _dig(mapping: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(part)
    return mapping


def prepare_image(data: bytes | None, longest: int, *, photo: bool) -> tuple[io.BytesIO, tuple[int, int]] | None:
    """Decoded, oriented, RGB, no longer than `longest` px, re-encoded (JPEG for the photo, PNG for
    the small panels), with the full-size (width, height); None if the bytes are not an image."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            full = im.size  # in oriented pixels, like the crop's coordinates
            if im.getexif().get(0x0112) in (5, 6, 7, 8):
                full = (full[1], full[0])
            if photo:
                im.draft("RGB", (longest, longest))  # JPEG: decode at 1/2..1/8 scale, fast on 20 MP
            image = ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    image.thumbnail((longest, longest), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if photo:
        image.save(buf, "JPEG", quality=85, optimize=True)
    else:
        image.save(buf, "PNG")
    buf.seek(0)
    return buf, full


# ---------------------------------------------------------------- the page


class _Page:
    def __init__(self, compress: bool) -> None:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(False)  # one page, always
        pdf.set_compression(compress)
        pdf.c_margin = 0  # text flush with the images and rules
        pdf.add_page()
        self.pdf = pdf

    def font(self, size: float, style: str = "", colour: tuple[int, int, int] = INK) -> None:
        self.pdf.set_font("helvetica", style, size)
        self.pdf.set_text_color(*colour)

    def line(self, text: str, size: float = 10, style: str = "", *, h: float | None = None,
             colour: tuple[int, int, int] = INK, align: str = "L") -> None:
        self.font(size, style, colour)
        self.pdf.cell(WIDTH, h or size * 0.5, latin1(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(self, text: str, size: float = 10, style: str = "", *, colour: tuple[int, int, int] = INK,
             x: float = MARGIN, w: float = WIDTH, align: str = "L") -> None:
        self.font(size, style, colour)
        self.pdf.set_x(x)
        self.pdf.multi_cell(w, size * 0.48, latin1(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self.line(text, 12, "B", h=7)

    def rule(self, y: float | None = None) -> None:
        y = self.pdf.get_y() if y is None else y
        self.pdf.set_draw_color(*RULE)
        self.pdf.set_line_width(0.3)
        self.pdf.line(MARGIN, y, PAGE_W - MARGIN, y)

    def placeholder(self, x: float, y: float, w: float, h: float, text: str) -> None:
        self.pdf.set_draw_color(*RULE)
        self.pdf.set_fill_color(245, 245, 245)
        self.pdf.rect(x, y, w, h, style="DF")
        self.font(8, "I", MUTED)
        self.pdf.set_xy(x, y + h / 2 - 2)
        self.pdf.cell(w, 4, latin1(text), align="C")

    def picture(self, prepared: tuple[io.BytesIO, tuple[int, int]] | None, x: float, y: float, w: float,
                h: float, missing: str) -> tuple[float, float, float, float] | None:
        """The image fitted and centred in the box; its placed (x, y, w, h), or None if missing."""
        if prepared is None:
            self.placeholder(x, y, w, h, missing)
            return None
        buf, _ = prepared
        with Image.open(buf) as im:
            pw, ph = im.size
        buf.seek(0)
        scale = min(w / pw, h / ph)
        iw, ih = pw * scale, ph * scale
        ix, iy = x + (w - iw) / 2, y + (h - ih) / 2
        self.pdf.image(buf, ix, iy, iw, ih)
        return ix, iy, iw, ih

    def caption(self, x: float, y: float, w: float, text: str) -> None:
        self.font(8, "", MUTED)
        self.pdf.set_xy(x, y)
        self.pdf.multi_cell(w, 3.6, latin1(text), align="C")


def _crop_outline(page: _Page, placed: tuple[float, float, float, float], full: tuple[int, int],
                  crop: dict[str, Any]) -> None:
    """The crop square drawn on the photo (clipped to it): where the model looked."""
    x, y, size = (number(crop.get(k)) for k in ("x", "y", "size"))
    if x is None or y is None or size is None or size <= 0:
        return
    px, py, pw, ph = placed
    sx, sy = pw / full[0], ph / full[1]
    left, top = max(px, px + x * sx), max(py, py + y * sy)
    right, bottom = min(px + pw, px + (x + size) * sx), min(py + ph, py + (y + size) * sy)
    if right - left < 0.5 or bottom - top < 0.5:
        return
    page.pdf.set_draw_color(*CROP_OUTLINE)
    page.pdf.set_line_width(0.6)
    page.pdf.rect(left, top, right - left, bottom - top)


def _images(page: _Page, images: dict[str, bytes], result: dict[str, Any]) -> None:
    top = page.pdf.get_y() + 2
    photo = prepare_image(images.get("original"), PHOTO_LONGEST_PX, photo=True)
    crop = prepare_image(images.get("crop"), PANEL_LONGEST_PX, photo=False)
    heat = prepare_image(images.get("heatmap"), PANEL_LONGEST_PX, photo=False)

    placed = page.picture(photo, MARGIN, top, *PHOTO_BOX, "Photo not available")
    crop_info = result.get("crop") if isinstance(result.get("crop"), dict) else {}
    if placed is not None and photo is not None and crop_info:
        _crop_outline(page, placed, photo[1], crop_info)
    outlined = placed is not None and bool(crop_info)
    photo_caption = "Photo (downscaled); the yellow square is the crop" if outlined else "Photo (downscaled)"
    page.caption(MARGIN, top + PHOTO_BOX[1] + 1, PHOTO_BOX[0], photo_caption)

    x_crop = MARGIN + PHOTO_BOX[0] + GAP
    x_heat = x_crop + PANEL + GAP
    panel_top = top + (PHOTO_BOX[1] - PANEL) / 2
    page.picture(crop, x_crop, panel_top, PANEL, PANEL, "Crop not available")
    source = {"auto": "located automatically", "user": "chosen by the user"}.get(str(crop_info.get("source")))
    page.caption(x_crop, panel_top + PANEL + 1, PANEL, f"Crop the model saw ({source})" if source else "Crop the model saw")
    page.picture(heat, x_heat, panel_top, PANEL, PANEL, "No heat map")
    page.caption(x_heat, panel_top + PANEL + 1, PANEL, "Heat map: where the model looked for glaucoma")
    page.pdf.set_xy(MARGIN, top + PHOTO_BOX[1] + 9)


def _probability(page: _Page, result: dict[str, Any]) -> None:
    pdf = page.pdf
    p = number(result.get("probability_glaucoma"))
    threshold = number(result.get("threshold"))
    label = latin1(result.get("label") or "unknown", 20)
    colour = COLOURS.get(label, INK)

    page.heading("Result")
    page.font(10)
    pdf.cell(44, 8, "Probability of glaucoma:")
    page.font(18, "B", colour)
    pdf.cell(28, 8, "n/a" if p is None else f"{p:.3f}")
    page.font(10)
    pdf.cell(16, 8, "Label:")
    page.font(14, "B", colour)
    pdf.cell(0, 8, label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # The bar: 0..1, filled to the probability, the operating threshold marked.
    y = pdf.get_y() + 5
    bar_h = 6.0
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.3)
    pdf.set_fill_color(235, 235, 235)
    pdf.rect(MARGIN, y, WIDTH, bar_h, style="DF")
    if p is not None:
        pdf.set_fill_color(*colour)
        filled = WIDTH * min(max(p, 0.0), 1.0)
        if filled > 0.05:
            pdf.rect(MARGIN, y, filled, bar_h, style="F")
        pdf.rect(MARGIN, y, WIDTH, bar_h)
    if threshold is not None and 0 <= threshold <= 1:
        tx = MARGIN + WIDTH * threshold
        pdf.set_draw_color(*INK)
        pdf.set_line_width(0.7)
        pdf.line(tx, y - 2.5, tx, y + bar_h + 1)
        page.font(7.5, "", INK)
        text = f"threshold {threshold:.2f}"
        tw = pdf.get_string_width(text)
        pdf.set_xy(min(max(tx - tw / 2, MARGIN), PAGE_W - MARGIN - tw), y - 5.5)
        pdf.cell(tw, 3, text)
    page.font(7.5, "", MUTED)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        text = f"{tick:g}"
        tw = pdf.get_string_width(text)
        pdf.set_xy(min(max(MARGIN + WIDTH * tick - tw / 2, MARGIN), PAGE_W - MARGIN - tw), y + bar_h + 1)
        pdf.cell(tw, 3, text)
    pdf.set_xy(MARGIN, y + bar_h + 6)

    if threshold is not None:
        page.line(f"The label is glaucoma when the probability is at or above the operating threshold "
                  f"{threshold:.2f} (from the model card).", 9, colour=MUTED)

    referral = result.get("referral")
    if referral:
        pdf.ln(1.5)
        page.font(10, "B")
        pdf.cell(0, 5.5, "Referral", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        page.para(latin1(referral, MAX_REFERRAL_CHARS), 10)

    cdr = result.get("cdr")
    vertical = number(_dig(cdr, "vertical")) if isinstance(cdr, dict) else None
    if vertical is not None:
        pdf.ln(1.5)
        page.font(10)
        pdf.cell(44, 5.5, "Vertical cup-to-disc ratio:")
        page.font(10, "B")
        pdf.cell(10, 5.5, f"{vertical:.2f}")
        mae = fmt(cdr.get("mae_vs_experts"))
        if mae:
            where = cdr.get("measured_on")
            pdf.ln(5.5)  # its own line: the full width holds the description of where it was measured
            page.font(9, "", MUTED)
            pdf.cell(0, 5.5, latin1(f"Estimated; mean absolute error {mae} against experts"
                                    + (f" on {measured_on(where)}." if isinstance(where, str) and where else "."),
                                    100))
        pdf.ln(5.5)


def _performance(card: dict[str, Any] | None, result_version: str | None) -> list[str]:
    """Sentences on the model's measured performance, from whatever the card has."""
    if not isinstance(card, dict):
        return []
    cv = _dig(card, "metrics", "cv")
    cv = cv if isinstance(cv, dict) else {}
    auc, sens, spec = fmt(cv.get("auc"), 3), fmt(cv.get("sensitivity"), 2), fmt(cv.get("specificity"), 2)
    threshold = fmt(cv.get("threshold"), 2) or fmt(card.get("threshold"), 2)
    n = cv.get("n") if isinstance(cv.get("n"), int) else _dig(card, "training_data", "n")
    data = _dig(card, "training_data", "name")
    figures = [f"AUC {auc}" if auc else None,
               f"sensitivity {sens}" if sens else None,
               f"specificity {spec}" if spec else None]
    figures = [f for f in figures if f]
    lines: list[str] = []
    if figures:
        where = f" on {latin1(data, 80)}" if data else ""
        size = f" (n = {n})" if isinstance(n, int) and not isinstance(n, bool) else ""
        at = f" at the operating threshold {threshold}" if threshold and (sens or spec) else ""
        lines.append(f"Measured by cross-validation{where}{size}: {', '.join(figures)}{at}.")
    elif threshold:
        lines.append(f"Operating threshold {threshold}.")
    mae = fmt(_dig(card, "cdr_error", "mae_vs_experts"))
    if mae:
        lines.append(f"Cup-to-disc ratio: mean absolute error {mae} against experts.")
    version = card.get("model_version")
    if lines and version and result_version and version != result_version:
        lines.append(f"These figures are those of the installed model {latin1(version, 60)}.")
    return lines


def _model(page: _Page, result: dict[str, Any], card: dict[str, Any] | None) -> None:
    version = result.get("model_version")
    page.heading("Model")
    page.line(f"Version: {latin1(version, 80) if version else 'unknown'}", 10, h=5.5)
    lines = _performance(card, str(version) if version else None)
    if lines:
        page.para(" ".join(lines), 9.5)


def _feedback(page: _Page, feedback: Any) -> None:
    if not isinstance(feedback, dict) or not feedback:
        return
    page.heading("Feedback")
    correct = {True: "yes", False: "no", None: "don't know"}.get(feedback.get("diagnosis_correct"), "don't know")
    given = when(feedback.get("given_at"))
    first = f"Result correct: {correct}"
    if feedback.get("true_label"):
        first += f"; true label: {latin1(feedback['true_label'], 20)}"
    if given:
        first += f" (given {given})"
    page.line(first + ".", 10, h=5.5)
    meta = feedback.get("metadata") if isinstance(feedback.get("metadata"), dict) else {}
    facts = []
    for key, name, unit in (("age", "age", ""), ("sex", "sex", ""), ("eye", "eye", ""),
                            ("iop_mmhg", "IOP", " mmHg"), ("cdr", "CDR", ""), ("camera", "camera", "")):
        value = meta.get(key)
        if value is None or value == "":
            continue
        shown = f"{value:g}" if isinstance(value, float) else latin1(value, MAX_FIELD_CHARS)
        facts.append(f"{name} {shown}{unit}")
    if isinstance(meta.get("family_history"), bool):
        facts.append(f"family history: {'yes' if meta['family_history'] else 'no'}")
    if facts:
        page.para("; ".join(facts) + ".", 9.5)
    if meta.get("notes"):
        page.para(f"Notes: {latin1(meta['notes'], MAX_NOTES_CHARS)}", 9.5, colour=MUTED)


def build_report(
    record: dict[str, Any],
    images: dict[str, bytes],
    card: dict[str, Any] | None,
    *,
    generated_at: datetime | None = None,
    compress: bool = True,
) -> bytes:
    """The one-page PDF of a finished screening. `images`: any of "original", "crop", "heatmap"
    (PNG/JPEG/TIFF bytes; a missing or unreadable one leaves a labelled blank); `card`: the model
    card (`papila.model.serving.card.load_card()`), or None to leave out the measured performance."""
    generated_at = generated_at or datetime.now(UTC)
    result = record.get("result") if isinstance(record.get("result"), dict) else {}
    sid = str(record.get("_id") or record.get("id") or "")

    page = _Page(compress)
    pdf = page.pdf
    pdf.set_title(TITLE)
    pdf.set_subject(f"Screening {sid}")
    pdf.set_creator("Papila")
    pdf.set_creation_date(generated_at if generated_at.tzinfo else generated_at.replace(tzinfo=UTC))

    page.line(TITLE, 18, "B", h=9)
    page.line(f"Screening {sid}", 9.5, h=5)
    dates = [f"Screened {d}" for d in [when(record.get("created_at"))] if d]
    dates.append(f"report generated {when(generated_at)}" if dates else f"Report generated {when(generated_at)}")
    page.line(" - ".join(dates), 9.5, colour=MUTED, h=5)
    pdf.ln(1.5)
    page.rule()

    _images(page, images, result)
    _probability(page, result)
    _model(page, result, card)
    _feedback(page, record.get("feedback"))

    page.rule(FOOTER_Y)
    pdf.set_xy(MARGIN, FOOTER_Y + 1.5)
    page.para(DISCLAIMER, 8.5, "B", align="C")
    page.para("Papila - open-source glaucoma screening", 7.5, colour=MUTED, align="C")
    return bytes(pdf.output())


# ---------------------------------------------------------------- the service's reads


def gather_images(bucket: Any, record: dict[str, Any]) -> dict[str, bytes]:
    """The screening's photo, crop and heat map from S3 (`ImageBucket`); a missing one is left out."""
    sid = record["_id"]
    wanted = {"original": record.get("original_key"), "crop": keys.crop_key(sid), "heatmap": keys.heatmap_key(sid)}
    if (record.get("result") or {}).get("heatmap") is False:
        wanted.pop("heatmap")
    images: dict[str, bytes] = {}
    for name, key in wanted.items():
        data = bucket.get_if_exists(key) if key else None
        if data is not None:
            images[name] = data
    return images


def installed_card() -> dict[str, Any] | None:
    """The installed model's card, or None when there is none (or it is unreadable)."""
    from papila.model.serving.card import load_card

    try:
        return load_card()
    except (FileNotFoundError, ValueError, OSError):
        return None
