"""Generate a labelled clinical-photo set: faces, wristbands/labels/badges with codes,
and clean photos with no person, all from material we may keep and redistribute.

Sources (licences in docs/photos.md):
- faces: scikit-image's ``astronaut`` (NASA, public domain) and ``camera`` (CC0,
  Lav Varshney), and Pillow's ``hopper`` test image (Grace Hopper, US Navy photo,
  public domain; the file is tests/data/photos/hopper.tif, Pillow's HPND licence);
- backgrounds with no person: scikit-image's ``coffee``, ``chelsea`` (a cat), ``brick``,
  ``grass``, ``gravel``, ``retina``, ``immunohistochemistry``, ``rocket`` (CC0 or public
  domain), and generated skin / wound / gauze patches;
- wristbands, labels and badges: drawn here with Pillow (DejaVu fonts) with synthetic
  names, MRNs and dates, plus codes written by zxing-cpp.

Faces are composited (soft elliptical alpha) at face widths 20-40 px and 40-160 px,
turned by 0/90/180/270 degrees, under several lightings, with skin tones shifted
darker (a synthetic stand-in: the set has no real portraits of darker-skinned people,
see docs/photos.md), and some partly covered (surgical mask, dressing over an eye).
Labels: ``labels.json`` with each image's face boxes (the detector-independent core:
brows to chin, cheek to cheek), code boxes, symbologies, and printed PHI words with
each word's ink quadrilateral in the image (``phi_word_quads``, to check it is masked).

    python bench/make_photo_set.py [N_PER_GROUP] [OUT_DIR]
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# Head crops (hair included) and face cores (brows to chin, cheek to cheek), in source
# pixels, set by hand on each source.
HEADS = {
    "astronaut": {"head": (140, 15, 310, 225), "core": (180, 58, 270, 178)},
    "camera": {"head": (175, 60, 290, 230), "core": (200, 112, 263, 200)},
    "hopper": {"head": (22, 0, 108, 112), "core": (40, 24, 87, 78)},
}
TONES = {  # multiplicative RGB shifts: a synthetic range of skin tones
    "as-is": (1.0, 1.0, 1.0),
    "medium": (0.78, 0.64, 0.52),
    "dark": (0.52, 0.40, 0.32),
    "very-dark": (0.36, 0.27, 0.22),
}
FIRST = ["Maria", "James", "Aisha", "Chen", "Olga", "Kwame", "Priya", "Lucas", "Fatima", "Noah", "Yuki", "Elena"]
LAST = ["Garcia", "Okafor", "Nguyen", "Smith", "Kowalski", "Haddad", "Silva", "Johnson", "Tanaka", "Mensah", "Rossi", "Patel"]
SYMBOLOGIES = ["Code128", "Code39", "Codabar", "EAN13", "UPCA", "QRCode", "DataMatrix", "PDF417", "Aztec"]


def sources() -> dict[str, np.ndarray]:
    import skimage.data as data

    grey_camera = data.camera()
    return {
        "astronaut": data.astronaut(),
        "camera": np.dstack([grey_camera] * 3),
        "hopper": np.array(Image.open(ROOT / "tests" / "data" / "photos" / "hopper.tif").convert("RGB")),
    }


def backgrounds(rng: random.Random) -> dict[str, np.ndarray]:
    import skimage.data as data

    out = {
        "coffee": data.coffee(), "chelsea-cat": data.chelsea(), "brick": _rgb(data.brick()),
        "grass": _rgb(data.grass()), "gravel": _rgb(data.gravel()), "retina": data.retina(),
        "ihc-slide": data.immunohistochemistry(), "rocket": data.rocket(),
    }
    for tone_name, base in (("light", (230, 190, 170)), ("medium", (190, 140, 105)), ("dark", (110, 75, 55)), ("very-dark", (70, 48, 38))):
        out[f"skin-{tone_name}"] = skin_patch(base, rng, wound=False)
        out[f"wound-{tone_name}"] = skin_patch(base, rng, wound=True)
    out["gauze"] = gauze(rng)
    return out


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.dstack([grey] * 3)


def skin_patch(base: tuple[int, int, int], rng: random.Random, wound: bool, size: tuple[int, int] = (800, 600)) -> np.ndarray:
    """Skin-like texture (low-frequency shading, pores, hair-thin lines), optionally with
    a wound (red granulation, yellow slough, dark eschar rim) and a paper ruler."""
    w, h = size
    nr = np.random.default_rng(rng.randrange(1 << 30))
    shade = cv2.resize(nr.normal(0, 1, (6, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    pores = cv2.GaussianBlur(nr.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    img = np.array(base, np.float32)[None, None, :] * (1 + 0.08 * shade[..., None]) + 6 * pores[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    if wound:
        cx, cy = rng.randint(w // 3, 2 * w // 3), rng.randint(h // 3, 2 * h // 3)
        ax, ay = rng.randint(60, 160), rng.randint(40, 110)
        cv2.ellipse(img, (cx, cy), (ax + 10, ay + 10), rng.randint(0, 180), 0, 360, (60, 30, 25), -1)
        cv2.ellipse(img, (cx, cy), (ax, ay), rng.randint(0, 180), 0, 360, (170, 40, 45), -1)
        for _ in range(12):
            cv2.circle(img, (cx + rng.randint(-ax // 2, ax // 2), cy + rng.randint(-ay // 2, ay // 2)), rng.randint(4, 14), (200, 180, 90), -1)
        img = cv2.GaussianBlur(img, (5, 5), 0)
        # A paper ruler beside the wound (ticks, no names).
        y = min(h - 40, cy + ay + 30)
        cv2.rectangle(img, (cx - 150, y), (cx + 150, y + 28), (240, 240, 235), -1)
        for i in range(0, 300, 6):
            cv2.line(img, (cx - 150 + i, y), (cx - 150 + i, y + (12 if i % 30 == 0 else 6)), (30, 30, 30), 1)
    return img


def gauze(rng: random.Random, size: tuple[int, int] = (700, 500)) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 235, np.uint8)
    for x in range(0, w, 7):
        cv2.line(img, (x + rng.randint(-2, 2), 0), (x + rng.randint(-2, 2), h), (205, 205, 200), 2)
    for y in range(0, h, 7):
        cv2.line(img, (0, y + rng.randint(-2, 2)), (w, y + rng.randint(-2, 2)), (210, 210, 205), 2)
    cv2.ellipse(img, (w // 2, h // 2), (90, 60), 0, 0, 360, (150, 60, 55), -1)  # blood stain
    return cv2.GaussianBlur(img, (3, 3), 0)


def canvas(bg: np.ndarray, size: tuple[int, int], rng: random.Random) -> np.ndarray:
    """A crop of the background resized to ``size`` (w, h)."""
    h, w = bg.shape[:2]
    cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return cv2.resize(np.ascontiguousarray(bg[y : y + ch, x : x + cw]), size, interpolation=cv2.INTER_AREA)


def light(img: np.ndarray, kind: str, rng: random.Random) -> np.ndarray:
    f = img.astype(np.float32)
    if kind == "dim":
        f = 255 * (f / 255) ** 1.6 * 0.6 + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 4, f.shape)
    elif kind == "bright":
        f = 255 * (f / 255) ** 0.6
    elif kind == "warm":
        f = f * np.array([1.08, 0.97, 0.80])
    elif kind == "flat":
        f = 128 + (f - 128) * 0.55
    return np.clip(f, 0, 255).astype(np.uint8)


def head_patch(src: np.ndarray, name: str, tone: str, cover: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The head crop, its soft alpha, and the face core in the crop's coordinates."""
    hx0, hy0, hx1, hy1 = HEADS[name]["head"]
    cx0, cy0, cx1, cy1 = HEADS[name]["core"]
    patch = src[hy0:hy1, hx0:hx1].astype(np.float32) * np.array(TONES[tone])[None, None, :]
    patch = np.clip(patch, 0, 255).astype(np.uint8).copy()
    core = (cx0 - hx0, cy0 - hy0, cx1 - hx0, cy1 - hy0)
    cw, ch = core[2] - core[0], core[3] - core[1]
    if cover == "surgical-mask":  # nose to chin
        pts = np.array([(core[0] - cw * 0.05, core[1] + ch * 0.5), (core[2] + cw * 0.05, core[1] + ch * 0.5),
                        (core[2], core[3] + ch * 0.02), (core[0], core[3] + ch * 0.02)], np.int32)
        cv2.fillPoly(patch, [pts], (150, 200, 215))
    elif cover == "dressing":  # a dressing over one eye and the forehead
        cv2.rectangle(patch, (int(core[0] - cw * 0.05), int(core[1])), (int(core[0] + cw * 0.55), int(core[1] + ch * 0.45)), (238, 236, 230), -1)
    hh, ww = patch.shape[:2]
    alpha = np.zeros((hh, ww), np.float32)
    cv2.ellipse(alpha, (ww // 2, hh // 2), (int(ww * 0.47), int(hh * 0.49)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(1.0, ww * 0.04))
    return patch, alpha, core


def paste(img: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    region = img[y : y + h, x : x + w].astype(np.float32)
    a = alpha[..., None]
    img[y : y + h, x : x + w] = (patch * a + region * (1 - a)).astype(np.uint8)


def rot_box(box: tuple[int, int, int, int], k: int, w: int, h: int) -> tuple[int, int, int, int]:
    """Where ``box`` of a w x h patch lands after np.rot90(patch, k)."""
    x0, y0, x1, y1 = box
    for _ in range(k % 4):  # one counter-clockwise turn: (x, y) -> (y, w - x)
        x0, y0, x1, y1 = y0, w - x1, y1, w - x0
        w, h = h, w
    return (x0, y0, x1, y1)


def face_image(i: int, rng: random.Random, srcs: dict, bgs: dict, small: bool) -> tuple[np.ndarray, dict]:
    size = rng.choice([(640, 480), (800, 600), (1024, 768)])
    bg_name = rng.choice(sorted(bgs))
    img = canvas(bgs[bg_name], size, rng)
    name = rng.choice(sorted(HEADS))
    tone = ["as-is", "medium", "dark", "very-dark"][i % 4]
    cover = rng.choice(["none", "none", "none", "surgical-mask", "dressing"])
    k = (i // 4) % 4
    patch, alpha, core = head_patch(srcs[name], name, tone, cover)
    face_w = rng.randint(20, 39) if small else rng.choice([rng.randint(40, 80), rng.randint(80, 180)])
    s = face_w / (core[2] - core[0])
    ph, pw = max(4, round(patch.shape[0] * s)), max(4, round(patch.shape[1] * s))
    patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    alpha = cv2.resize(alpha, (pw, ph))
    core = tuple(int(round(v * s)) for v in core)
    patch, alpha = np.ascontiguousarray(np.rot90(patch, k)), np.ascontiguousarray(np.rot90(alpha, k))
    core = rot_box(core, k, pw, ph)
    ph, pw = patch.shape[:2]
    x, y = rng.randint(0, size[0] - pw), rng.randint(0, size[1] - ph)
    paste(img, patch, alpha, x, y)
    lighting = rng.choice(["normal", "normal", "dim", "bright", "warm", "flat"])
    img = light(img, lighting, rng)
    box = (x + core[0], y + core[1], x + core[2], y + core[3])
    return img, {"faces": [{"box": box, "width": face_w, "source": name, "tone": tone, "cover": cover, "rotation": 90 * k}],
                 "background": bg_name, "lighting": lighting}


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size=size)


def code_bitmap(symbology: str, rng: random.Random, mrn: str, name: str, dob: str) -> np.ndarray:
    import zxingcpp as z

    content = {
        "Code128": f"MRN{mrn}", "Code39": mrn, "Codabar": f"A{mrn}B", "EAN13": f"2{mrn[:11].rjust(11, '0')}",
        "UPCA": f"0{mrn[:10].rjust(10, '0')}", "QRCode": f"MRN:{mrn};NAME:{name};DOB:{dob}",
        "DataMatrix": f"MRN{mrn}", "PDF417": f"{name}|{mrn}|{dob}", "Aztec": f"ACC{mrn}",
    }[symbology]
    barcode = z.create_barcode(content, getattr(z.BarcodeFormat, symbology))
    return np.array(z.write_barcode_to_image(barcode, scale=rng.choice([2, 3])))


def band_image(i: int, rng: random.Random, bgs: dict) -> tuple[np.ndarray, dict]:
    """A wristband, specimen label or ID badge with printed PHI and a code, turned and
    put in perspective on a background (a wrist on skin, a tube on gauze, ...)."""
    kind = ["wristband", "label", "badge"][i % 3]
    symbology = SYMBOLOGIES[i % len(SYMBOLOGIES)]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    mrn = str(rng.randint(10**7, 10**9 - 1))
    dob = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1935, 2020)}"
    code = code_bitmap(symbology, rng, mrn, f"{last}^{first}", dob)
    linear = symbology in ("Code128", "Code39", "Codabar", "EAN13", "UPCA", "PDF417")
    fsize = rng.choice([14, 16, 20])
    lines = {
        "wristband": [f"{last.upper()}, {first}", f"MRN {mrn}", f"DOB {dob}"],
        "label": [f"{last}, {first}", f"MRN: {mrn}", f"DOB: {dob}"],
        "badge": [f"{first} {last}", "Staff Nurse", f"ID {mrn[:6]}"],
    }[kind]
    ch, cw = code.shape
    text_w = max(_font(fsize).getbbox(t)[2] for t in lines) + 20
    tag_w = (text_w + cw + 40) if linear or kind == "wristband" else max(text_w, cw) + 40
    tag_h = max(ch, fsize * 4) + 30 if tag_w > text_w + cw else ch + fsize * 4 + 40
    colour = {"wristband": (255, 255, 255), "label": (250, 250, 240), "badge": (225, 235, 250)}[kind]
    tag = Image.new("RGB", (tag_w, tag_h), colour)
    d = ImageDraw.Draw(tag)
    words = []
    for n, t in enumerate(lines):
        d.text((12, 12 + n * int(fsize * 1.3)), t, fill=(15, 15, 15), font=_font(fsize, bold=n == 0))
    if tag_w > text_w + cw:
        cx, cy = text_w + 10, (tag_h - ch) // 2
    else:
        cx, cy = (tag_w - cw) // 2, fsize * 4 + 20
    tag.paste(Image.fromarray(code).convert("RGB"), (cx, cy))
    word_quads = []  # each PHI word's ink box on the tag, corners clockwise from top left
    for n, t in enumerate(lines):
        font, y = _font(fsize, bold=n == 0), 12 + n * int(fsize * 1.3)
        for m_word in re.finditer(r"[^\s,]+", t):
            w = m_word.group()
            if w in ("MRN", "MRN:", "DOB", "DOB:", "ID", "Staff", "Nurse"):
                continue
            x = 12 + font.getlength(t[: m_word.start()])
            l, top, r, b = font.getbbox(w)
            words.append(w)
            word_quads.append([(x + l, y + top), (x + r, y + top), (x + r, y + b), (x + l, y + b)])
    tag_arr = np.array(tag)
    code_quad = np.array([(cx, cy), (cx + cw, cy), (cx + cw, cy + ch), (cx, cy + ch)], np.float32)
    # Turn (any angle, including 90/180/270) and mild perspective, then scale.
    size = rng.choice([(640, 480), (800, 600), (1024, 768)])
    scale = rng.uniform(0.45, 1.0) * min(size) / max(tag_w, tag_h) * 0.8
    angle = rng.choice([0, 90, 180, 270, rng.uniform(-35, 35), rng.uniform(0, 360)])
    th, tw = tag_arr.shape[:2]
    src = np.float32([(0, 0), (tw, 0), (tw, th), (0, th)])
    jitter = 0.06 * min(tw, th)
    dst = src + np.float32([(rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter)) for _ in range(4)])
    rot = cv2.getRotationMatrix2D((tw / 2, th / 2), angle, scale)
    dst = np.hstack([dst, np.ones((4, 1), np.float32)]) @ rot.T
    dst += np.float32([size[0] / 2, size[1] / 2]) - dst.mean(axis=0) + np.float32([rng.uniform(-0.15, 0.15) * size[0], rng.uniform(-0.15, 0.15) * size[1]])
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    bg_name = rng.choice([b for b in sorted(bgs) if b.startswith(("skin", "wound", "gauze", "coffee", "brick"))])
    img = canvas(bgs[bg_name], size, rng)
    warped = cv2.warpPerspective(tag_arr, m, size, flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    alpha = cv2.warpPerspective(np.ones((th, tw), np.float32), m, size)
    img = (warped * alpha[..., None] + img * (1 - alpha[..., None])).astype(np.uint8)
    lighting = rng.choice(["normal", "normal", "dim", "bright", "warm"])
    img = light(img, lighting, rng)
    q = cv2.perspectiveTransform(code_quad[None], m)[0]
    quads = cv2.perspectiveTransform(np.float32(word_quads).reshape(1, -1, 2), m)[0].reshape(-1, 4, 2)
    box = (int(q[:, 0].min()), int(q[:, 1].min()), int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max())))
    module_px = float(scale * (cw / max(code.shape)) * (2 if symbology in ("QRCode", "DataMatrix", "Aztec") else 1))
    return img, {"codes": [{"box": box, "symbology": symbology, "kind": kind, "angle": round(float(angle), 1), "scale": round(float(scale), 3)}],
                 "phi_words": words,
                 "phi_word_quads": [[[round(float(x), 1), round(float(y), 1)] for x, y in quad] for quad in quads], "background": bg_name, "lighting": lighting, "module_scale": round(module_px, 2)}


def clean_image(i: int, rng: random.Random, bgs: dict) -> tuple[np.ndarray, dict]:
    name = sorted(bgs)[i % len(bgs)]
    size = rng.choice([(640, 480), (800, 600), (1024, 768)])
    img = light(canvas(bgs[name], size, rng), rng.choice(["normal", "normal", "dim", "bright", "warm"]), rng)
    return img, {"background": name}


def make(n: int, out: Path, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    srcs = sources()
    bgs = backgrounds(rng)
    out.mkdir(parents=True, exist_ok=True)
    items = []
    groups = [("face-large", lambda i: face_image(i, rng, srcs, bgs, small=False)),
              ("face-small", lambda i: face_image(i, rng, srcs, bgs, small=True)),
              ("code", lambda i: band_image(i, rng, bgs)),
              ("clean", lambda i: clean_image(i, rng, bgs))]
    for group, build in groups:
        for i in range(n):
            img, label = build(i)
            name = f"{group}_{i:03d}.png"
            Image.fromarray(img).save(out / name)
            items.append({"file": name, "group": group, "faces": [], "codes": [], "phi_words": [], **label})
    # The real, uncomposited portraits, turned in 90-degree steps.
    for name, src in srcs.items():
        for k in range(4):
            img = np.ascontiguousarray(np.rot90(src, k))
            h, w = src.shape[:2]
            box = rot_box(HEADS[name]["core"], k, w, h)
            fname = f"portrait_{name}_{90 * k}.png"
            Image.fromarray(img).save(out / fname)
            width = HEADS[name]["core"][2] - HEADS[name]["core"][0]
            items.append({"file": fname, "group": "portrait", "faces": [{"box": box, "width": width, "source": name, "tone": "as-is", "cover": "none", "rotation": 90 * k}],
                          "codes": [], "phi_words": []})
    (out / "labels.json").write_text(json.dumps(items, indent=1))
    return items


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "bench" / "out" / "photo_set"
    items = make(n, out)
    print(f"wrote {len(items)} images to {out}")
