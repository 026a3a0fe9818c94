"""Draw the web app's icons (192 and 512 px PNG) into phi_guard/web/static/.

A white shield with a tick on the page's blue, drawn inside the central 80 % so the
same file works as a "maskable" icon (Android crops icons to a circle or squircle).
Run: python tools/make_icons.py"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).resolve().parent.parent / "phi_guard" / "web" / "static"
BLUE = (11, 92, 173)
WHITE = (255, 255, 255)


def icon(size: int) -> Image.Image:
    scale = 4  # draw large, then shrink: smooth edges without anti-aliasing support
    s = size * scale
    im = Image.new("RGB", (s, s), BLUE)
    d = ImageDraw.Draw(im)

    def p(x: float, y: float) -> tuple[float, float]:
        return (x * s, y * s)

    shield = [p(0.5, 0.2), p(0.73, 0.28), p(0.73, 0.5), p(0.68, 0.63), p(0.5, 0.8), p(0.32, 0.63), p(0.27, 0.5), p(0.27, 0.28)]
    d.polygon(shield, fill=WHITE)
    d.line([p(0.39, 0.5), p(0.47, 0.59), p(0.62, 0.41)], fill=BLUE, width=int(0.055 * s), joint="curve")
    return im.resize((size, size), Image.LANCZOS)


def main() -> None:
    for size in (192, 512):
        icon(size).save(STATIC / f"icon-{size}.png", optimize=True)
        print(STATIC / f"icon-{size}.png")


if __name__ == "__main__":
    main()
