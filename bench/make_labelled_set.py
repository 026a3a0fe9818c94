"""Generate a labelled burned-in-text set: names (census lists), dates, IDs on x-ray-like
and flat backgrounds, several sizes, positions and colours, some as phone photos of a
monitor (skew, blur, glare, JPEG). Ground truth: every word's box and whether it is PHI."""
from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sample_images"))
from make_samples import xray_background  # noqa: E402

from phi_guard.detect.names import load_gazetteer  # noqa: E402

MARKERS = ["PORTABLE", "L", "R", "AP", "UPRIGHT", "SUPINE", "120kVp", "W:400", "PA"]


def _font(size: int):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"):
        if Path(path).exists() and random.random() < 0.5:
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def make(n: int, out: Path, seed: int = 7) -> list[dict]:
    random.seed(seed)
    gaz = load_gazetteer()
    firsts = sorted(n for n in gaz.first if len(n) > 3)[:3000]
    lasts = sorted(n for n in gaz.last if len(n) > 3)[:20000]
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        size = random.choice([1024, 768, 512])
        kind = random.choice(["xray", "xray", "flat_dark", "flat_light"])
        if kind == "xray":
            im = xray_background(size, size, seed=i).convert("RGB")
            fg = random.choice([(235, 235, 235), (200, 200, 200), (255, 255, 120), (150, 150, 150)])
        elif kind == "flat_dark":
            im = Image.new("RGB", (size, size), (10, 10, 10))
            fg = random.choice([(240, 240, 240), (90, 90, 90)])
        else:
            im = Image.new("RGB", (size, size), (245, 245, 245))
            fg = random.choice([(10, 10, 10), (140, 140, 140)])
        d = ImageDraw.Draw(im)
        fsize = random.choice([10, 12, 14, 18, 24])
        font = _font(fsize)
        last, first = random.choice(lasts), random.choice(firsts)
        mrn = str(random.randint(10**6, 10**9))
        dob = f"{random.randint(1,12):02d}/{random.randint(1,28):02d}/{random.randint(1930,2005)}"
        study = f"{random.randint(1,28):02d}.{random.randint(1,12):02d}.{random.randint(2010,2025)}"
        name_style = random.choice(["caret", "space", "comma"])
        name_words = {"caret": [f"{last}^{first}"], "space": [last, first], "comma": [f"{last},", first]}[name_style]
        lines = [
            [(w, True) for w in name_words] + [(study, True)],
            [("MRN:", False), (mrn, True), ("DOB:", False), (dob, True)],
        ]
        widest = max(sum(d.textlength(t, font=font) + fsize // 2 for t, _ in line) for line in lines)
        x0 = min(random.choice([8, size // 2]), int(size - widest - 8))
        y = random.choice([8, size - 6 * fsize])
        words = []
        for line in lines:
            x = x0
            for text, phi in line:
                bbox = d.textbbox((x, y), text, font=font)
                d.text((x, y), text, font=font, fill=fg)
                words.append({"text": text, "phi": phi, "box": list(bbox)})
                x = bbox[2] + fsize // 2
            y += int(fsize * 1.6)
        for m in random.sample(MARKERS, 2):
            mx, my = random.randint(size // 4, size * 3 // 4), random.randint(size // 3, size * 2 // 3)
            bbox = d.textbbox((mx, my), m, font=font)
            d.text((mx, my), m, font=font, fill=fg)
            words.append({"text": m, "phi": False, "box": list(bbox)})
        name = f"synth_{i:03d}.png"
        if random.random() < 0.25:  # phone photo of a monitor: light blur + glare + JPEG (no geometry change: GT boxes stay valid)
            arr = np.asarray(im.filter(ImageFilter.GaussianBlur(0.8))).astype(np.float32)
            yy, xx = np.mgrid[0:size, 0:size]
            arr += 35 * np.exp(-(((xx - size * 0.7) / (size * 0.2)) ** 2 + ((yy - size * 0.4) / (size * 0.15)) ** 2))[..., None]
            arr += np.random.default_rng(i).normal(0, 4, arr.shape)
            im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=80)
            name = f"synth_{i:03d}.jpg"
            (out / name).write_bytes(buf.getvalue())
        else:
            im.save(out / name)
        items.append({"file": name, "words": words, "font_size": fsize, "background": kind})
    # clean images (no text but markers): must not be blocked
    for j in range(max(2, n // 8)):
        im = xray_background(768, 768, seed=1000 + j).convert("RGB")
        d = ImageDraw.Draw(im)
        d.text((700, 30), "R", font=ImageFont.load_default(size=30), fill=(230, 230, 230))
        im.save(out / f"clean_{j:02d}.png")
        items.append({"file": f"clean_{j:02d}.png", "words": [], "clean": True})
    (out / "ground_truth.json").write_text(json.dumps(items, indent=1))
    return items


if __name__ == "__main__":
    make(int(sys.argv[1]) if len(sys.argv) > 1 else 24, Path(sys.argv[2]) if len(sys.argv) > 2 else Path("bench/out/synth"))
