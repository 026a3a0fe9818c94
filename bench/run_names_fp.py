"""False positives a name gazetteer adds on the words phi_guard keeps (issue 10, docs/names.md).

Word lists: the default policy's allow list, the markers of the realistic sets, and a list
of common clinical, anatomy, technique and viewer words. For each gazetteer (the current
1990 US Census lists, the world list of phi_guard.detect.gazetteer_world, both), the
words it would call a first or last name.
Usage: python bench/run_names_fp.py   (prints a JSON summary and the hits)
"""
from __future__ import annotations

import json
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# Markers drawn in the realistic sets (bench/make_realistic_set.py) and the shared real files.
SET_MARKERS = ["AP", "PORTABLE", "SID", "180cm", "5", "cm", "L", "R", "UPRIGHT", "TRA", "A", "RT", "HEAD", "HAND", "FOOT",
               "POST", "SEMI-UPRIGHT", "LIVER", "MI", "TIS", "TIB", "KVP", "MAS", "ADULT", "ECHO", "BREAST", "ADV", "CINE", "MSCSKEL"]

CLINICAL = """
ABDOMEN ACROMION ADRENAL AIRWAY ALVEOLAR ANGLE ANKLE ANTERIOR AORTA AORTIC APEX APPENDIX ARCH ARM ARTERY ATRIUM AXIAL AXILLA
BACK BASE BILE BLADDER BONE BOWEL BRAIN BREAST BRONCHUS CALF CANAL CARDIAC CAROTID CARPAL CAVITY CECUM CERVICAL CHEST CHIN
CLAVICLE COCCYX COLON CORD CORONARY CORTEX COSTAL CRANIAL CUBITAL DELTOID DIAPHRAGM DISC DISTAL DORSAL DUCT DUODENUM EAR ELBOW
FACE FEMUR FIBULA FINGER FLANK FOOT FOREARM FOSSA GALLBLADDER GLAND GROIN HAND HEAD HEART HEEL HIP HILUM HIP HUMERUS ILEUM ILIAC
JAW JOINT JUGULAR KIDNEY KNEE LARYNX LATERAL LEG LIGAMENT LIP LIVER LOBE LUMBAR LUNG MANDIBLE MARROW MEDIAL MENISCUS MOUTH MUSCLE
NASAL NECK NERVE NODE NOSE ORBIT OVARY PALM PANCREAS PATELLA PELVIS PENIS PLEURA PORTAL POSTERIOR PROSTATE PROXIMAL PULMONARY
RADIUS RECTUM RENAL RIB ROOT SACRUM SCAPULA SHIN SHOULDER SINUS SKIN SKULL SPINE SPLEEN STERNUM STOMACH TALUS TEMPORAL TENDON
TESTIS THIGH THORAX THROAT THUMB THYROID TIBIA TOE TONGUE TRACHEA ULNA URETER URETHRA UTERUS VEIN VENTRICLE VERTEBRA WRIST
ACUTE AIR BENIGN CALCIFICATION CHRONIC CONTRAST CYST DENSITY EDEMA EFFUSION FLUID FRACTURE GAS LESION MASS MILD MODERATE NODULE
NORMAL OPACITY SEVERE SHADOW STABLE STENOSIS TUMOR
AP PA LAT OBLIQUE PORTABLE UPRIGHT ERECT SUPINE PRONE DECUBITUS STANDING SITTING INSPIRATION EXPIRATION LEFT RIGHT FRONT
ANT POST SUP INF PROX DIST BILATERAL UNILATERAL
SCOUT LOCALIZER TOPOGRAM SAGITTAL CORONAL TRANSVERSE SLICE SERIES IMAGE STUDY EXAM VIEW SCAN PHASE ARTERIAL VENOUS DELAYED
PLAIN NATIVE ENHANCED WINDOW LEVEL WIDTH CENTER ZOOM PAN SCALE RULER MARKER GRID FILTER KERNEL SOFT SHARP SMOOTH
DOPPLER COLOR POWER GAIN DEPTH FREQ FOCUS ECHO CINE LOOP FRAME HARMONIC GEN THI PEN RES MED
KVP MAS TUBE DOSE CTDI DLP PITCH ROTATION EXPOSURE GRID SID SOD FOV MATRIX THICKNESS SPACING TILT
T1 T2 FLAIR DWI ADC SWI STIR GRE TSE FSE EPI TR TE TI FLIP ECHO BANDWIDTH AVERAGES
HOSPITAL CLINIC CENTER MEDICAL RADIOLOGY IMAGING EMERGENCY WARD ROOM BED UNIT DEPARTMENT
PATIENT NAME DOB SEX AGE DATE TIME ID MRN ACC BORN MALE FEMALE YEARS YEAR MONTH DAY WEEK
ADULT CHILD INFANT NEONATE PEDIATRIC BREAST BRIDGE CROWN LANE STONE MARSH HILL MOORE WOOD BANKS
""".split()


def word_lists() -> dict[str, list[str]]:
    policy = tomllib.loads((ROOT / "phi_guard" / "default_policy.toml").read_text())
    allow = [w.upper().strip(":") for w in policy["detect"]["allow_words"]]
    return {"allow_list": sorted(set(allow)), "set_markers": sorted({w.upper() for w in SET_MARKERS}),
            "clinical": sorted(set(CLINICAL))}


def gazetteers() -> dict[str, tuple[frozenset[str], frozenset[str], float]]:
    from phi_guard.detect.gazetteer_world import load_world_names
    from phi_guard.detect.names import load_gazetteer

    t = time.perf_counter()
    census = load_gazetteer()
    census_s = time.perf_counter() - t
    t = time.perf_counter()
    world = load_world_names()
    world_s = time.perf_counter() - t
    return {"census_1990": (census.first, census.last, census_s), "world_faker": (world.first, world.last, world_s),
            "census_plus_world": (census.first | world.first, census.last | world.last, census_s + world_s)}


def detector_hits(lists: dict[str, list[str]], pairs: int = 400) -> dict:
    """What phi_guard's detector (names counted only where a name's shape is) masks: each
    kept word alone on a line, and random pairs of them alone on a line (the shape of an
    unlabelled name: the hardest case for markers such as ``LEFT HAND`` or ``DOPPLER GAIN``)."""
    import random

    from phi_guard import Policy
    from phi_guard.detect import Detector
    from phi_guard.ocr.base import OcrReading
    from phi_guard.types import Word

    detector, policy = Detector(), Policy.default()

    def flagged(line: str) -> bool:
        words, x = [], 0
        for t in line.split():
            words.append(Word(t, 0.95, (x, 0, x + 10 * len(t), 20), "fp", "fp:0"))
            x += 10 * len(t) + 10
        return bool(detector.detect(OcrReading(tuple(words)), policy))

    rng = random.Random(10)
    out: dict = {}
    for lname, words in lists.items():
        alone = sorted(w for w in words if flagged(w))
        cands = [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(pairs)]
        pair_hits = sorted({c for c in cands if flagged(c)})
        title_hits = sorted({c.title() for c in cands if flagged(c.title())})
        out[lname] = {"words": len(words), "alone_flagged": len(alone), "alone_hits": alone,
                      "pairs": len(cands), "pairs_flagged_upper": len(pair_hits), "pairs_flagged_title": len(title_hits),
                      "pair_hits": pair_hits[:40], "title_hits": title_hits[:40]}
    return out


def main() -> None:
    lists = word_lists()
    summary: dict = {}
    for gname, (first, last, load_s) in gazetteers().items():
        entry: dict = {"first_names": len(first), "last_names": len(last), "load_s": round(load_s, 2)}
        for lname, words in lists.items():
            hits = sorted(w for w in words if w in first or w in last)
            entry[lname] = {"words": len(words), "flagged": len(hits), "rate": round(len(hits) / len(words), 3), "hits": hits}
        summary[gname] = entry
    summary["phi_guard_detector"] = detector_hits(lists)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
