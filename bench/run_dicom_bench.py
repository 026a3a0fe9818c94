"""DICOM benchmark: phi_guard vs presidio-image-redactor's DicomImageRedactorEngine,
same files, one run. PHI word recall (a word leaks if its pixels are unchanged or an
independent Tesseract reads it), header values left, seconds per image.

Sets: Presidio's pseudo-PHI DICOMs with ground truth, and a generated set (burned-in
text at several grey levels, MONOCHROME1, multi-frame).
Usage: python bench/run_dicom_bench.py   (results -> bench/out/dicom_results.json)
"""
from __future__ import annotations

import json
import re
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ["OMP_THREAD_LIMIT"] = "1"
import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "dicom"
sys.path.insert(0, str(ROOT / "bench"))
from run_core_bench import PEER_PY, leaked, presidio_set, run_phi_guard  # noqa: E402

from phi_guard.detect.names import load_gazetteer  # noqa: E402
from phi_guard.formats.dicom.decode import render_frame  # noqa: E402
from phi_guard.formats.dicom.profile import header_terms, identifying_strings  # noqa: E402


def presidio_items() -> list[dict]:
    return presidio_set(suffix=".dcm", under="")


def generated_items(n: int = 12) -> list[dict]:
    import random

    random.seed(3)
    gaz = load_gazetteer()
    firsts, lasts = sorted(gaz.first)[:2000], sorted(gaz.last)[:20000]
    OUT.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        photometric = "MONOCHROME1" if i % 3 == 1 else "MONOCHROME2"
        n_frames = 4 if i % 4 == 3 else 1
        level = [0.98, 0.6, 0.35][i % 3]  # text grey level relative to the range
        last, first = random.choice(lasts), random.choice(firsts)
        pid = str(random.randint(10**7, 10**9))
        dob = f"{random.randint(1930, 2000)}{random.randint(1, 12):02d}{random.randint(1, 28):02d}"
        rng = np.random.default_rng(i)
        yy, xx = np.mgrid[0:512, 0:512]
        body = 1200 + 800 * np.exp(-(((xx - 256) / 150.0) ** 2 + ((yy - 256) / 180.0) ** 2))
        lines = [f"{last}^{first}", f"ID: {pid}", f"DOB: {dob[4:6]}/{dob[6:]}/{dob[:4]}"]
        canvas = Image.new("L", (512, 512), 0)
        d = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=random.choice([12, 14, 18]))
        words, y = [], 8
        for line in lines:
            x = 8
            for tok in line.split(" "):
                box = d.textbbox((x, y), tok, font=font)
                d.text((x, y), tok, font=font, fill=255)
                words.append({"text": tok, "phi": tok not in ("ID:", "DOB:"), "box": list(box)})
                x = box[2] + 8
            y += int(font.size * 1.6)
        mask = np.asarray(canvas) > 128
        frames = []
        for f in range(n_frames):
            img = body + rng.normal(0, 60, size=body.shape)
            if f == n_frames - 1 or n_frames == 1:  # text only in the last frame of a cine
                img[mask] = 4095 * level if photometric == "MONOCHROME2" else 4095 * (1 - level)
            frames.append(np.clip(img if photometric == "MONOCHROME2" else 4095 - img, 0, 4095).astype(np.uint16))
        arr = np.stack(frames)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.Modality = f"{last}^{first}", pid, dob, "OT"
        ds.InstitutionName, ds.StudyDate, ds.AccessionNumber = "Springfield General", "20240314", str(random.randint(10**6, 10**7))
        ds.set_pixel_data(arr if n_frames > 1 else arr[0], photometric, 12)
        p = OUT / f"gen_{i:02d}.dcm"
        ds.save_as(p, enforce_file_format=True)
        items.append({"file": str(p), "words": words, "frames_with_text": [n_frames - 1]})
    return items


def frames_of(ds) -> list[np.ndarray]:
    arr = ds.pixel_array
    frames = arr if (arr.ndim == 4 or (arr.ndim == 3 and int(getattr(ds, "SamplesPerPixel", 1)) == 1)) else arr[None]
    return [render_frame(f, ds) for f in frames]


def score(items: list[dict], outputs: dict[str, Path | None]) -> dict:
    total = leaks = header_left = header_total = 0
    for it in items:
        src_ds = pydicom.dcmread(it["file"])
        src_frames = frames_of(src_ds)
        terms = [t for t in header_terms(src_ds) if len(t) >= 4]
        header_total += len(terms)
        outp = outputs.get(it["file"])
        if outp is None:  # blocked: nothing shared
            total += sum(w["phi"] for w in it["words"])
            continue
        out_ds = pydicom.dcmread(outp)
        strings = " | ".join(identifying_strings(out_ds)).upper()
        header_left += sum(bool(re.search(rf"(?<![A-Z0-9]){re.escape(t.upper())}(?![A-Z0-9])", strings)) for t in terms)
        out_frames = frames_of(out_ds)
        for fi in it["frames_with_text"]:
            src = src_frames[fi] if src_frames[fi].ndim == 2 else np.asarray(Image.fromarray(src_frames[fi]).convert("L"))
            out = out_frames[fi] if out_frames[fi].ndim == 2 else np.asarray(Image.fromarray(out_frames[fi]).convert("L"))
            for w in it["words"]:
                if not w["phi"]:
                    continue
                total += 1
                changed, readable = leaked(src, out, w)
                leaks += (changed < 0.5) or readable
    return {"phi_words": total, "phi_leaked": leaks, "recall": round(1 - leaks / max(total, 1), 4),
            "header_terms": header_total, "header_terms_left": header_left}


def main() -> None:
    items = presidio_items() + generated_items()
    outs, pg_time = run_phi_guard(items, OUT / "phi_guard", output_format="DICOM")
    peer_dir = OUT / "peer"
    subprocess.run([str(PEER_PY), str(ROOT / "bench" / "peer_dicom_redact.py"), str(peer_dir)] + [it["file"] for it in items],
                   check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    peer_t = json.loads((peer_dir / "timings.json").read_text())
    results = {
        "files": len(items),
        "phi_guard": {**score(items, outs), "mean_s": pg_time["mean_s"]},
        "presidio_dicom_redactor": {**score(items, {it["file"]: peer_dir / Path(it["file"]).name for it in items}),
                                    "mean_s": round(statistics.mean(peer_t.values()), 3)},
    }
    print(json.dumps(results, indent=1))
    (OUT.parent / "dicom_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
