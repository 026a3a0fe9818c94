"""False faces on real photos with no person: every decodable image of the shared test
data folder (its DICOM renders, document images and metadata test photos; the Pillow
"hopper" portraits left out) and scikit-image's bundled sample images (astronaut and
camera, which show people, left out; the cat is in, a cat's face is not a person's).
Prints each image with a face found and the count; nothing is expected.

    OMP_NUM_THREADS=1 python bench/run_face_no_face_photos.py [SHARED_DATA_DIR]
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phi_guard.vision import FaceDetector  # noqa: E402

SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mpo", ".webp", ".heif", ".avif", ".npy"}
WITH_PEOPLE = {"astronaut", "camera", "lfw_subset"}


def photos(shared: Path) -> Iterator[tuple[str, np.ndarray]]:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        pillow_heif.register_avif_opener()
    except (ImportError, AttributeError):
        pass
    for path in sorted(shared.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in SUFFIXES or "03_malformed" in path.parts or "hopper" in path.name:
            continue
        try:
            pixels = np.load(path) if path.suffix == ".npy" else np.array(Image.open(path).convert("RGB"))
        except Exception:  # noqa: BLE001 - not an image this bench can use
            continue
        if min(pixels.shape[:2]) >= 32:
            yield str(path.relative_to(shared)), pixels
    import skimage.data

    for path in sorted(Path(skimage.data.__file__).parent.iterdir()):
        if path.suffix.lower() in (".png", ".jpg") and path.stem not in WITH_PEOPLE:
            yield "scikit-image/" + path.name, np.array(Image.open(path).convert("RGB"))


if __name__ == "__main__":
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data")
    detector = FaceDetector(threads=1)
    n = with_face = 0
    for name, pixels in photos(shared):
        n += 1
        faces = detector.detect(pixels)
        if faces:
            with_face += 1
            print(f"false face: {name} {[(f.core, f.score, f.rotation) for f in faces]}")
    print(f"{with_face}/{n} photos with no person got a face")
