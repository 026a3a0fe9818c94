"""Coverage-guided fuzzing of phi_guard's loaders with atheris, for long runs (hours),
not CI. See docs/fuzzing.md.

    pip install -e '.[fuzz]'
    python tools/fuzz_atheris.py image  corpus/image  -max_total_time=3600
    python tools/fuzz_atheris.py dicom  corpus/dicom  -rss_limit_mb=4096
    python tools/fuzz_atheris.py policy corpus/policy

Targets:
  image   sniff + decode + metadata inventory of any input (all photo formats and DICOM)
  dicom   the same, with the bytes placed after a DICOM preamble and meta header
  policy  the policy TOML: Policy.load on the bytes as a file

The contract is the one tests/test_replay.py enforces: an input is accepted or refused
with a phi_guard.errors.PhiGuardError; any other exception is a finding (atheris stops
and writes the input as crash-<sha1>). Seed the corpus with tests/data/ (the script
does so when the corpus folder is empty). A crash file replays with:

    python tools/fuzz_atheris.py image crash-<sha1>
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import atheris  # noqa: E402 - after the path set-up

with atheris.instrument_imports():
    # Import what the loaders import lazily, so coverage guides the fuzzer through
    # the decoders' Python code too (C decoders are exercised, not instrumented).
    import pydicom
    import pydicom.filereader
    import pydicom.pixels
    from PIL import Image

    Image.init()  # every Pillow format plugin, now rather than at the first open

    import phi_guard.formats.dicom.decode  # noqa: F401
    from phi_guard.errors import PhiGuardError
    from phi_guard.formats import adapter_for
    from phi_guard.load import load_document
    from phi_guard.policy import Policy

warnings.simplefilter("ignore")
# A modest pixel limit: a flipped size field must not make the fuzzer allocate gigabytes.
POLICY = Policy.from_table({"limits": {"max_pixels": 40_000_000}})
# Preamble, "DICM", and a meta group naming explicit VR little endian: (0002,0000) UL
# group length 28, then (0002,0010) UI "1.2.840.10008.1.2.1" padded to 20 bytes.
_DICOM_HEAD = (b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x1c\x00\x00\x00"
               + b"\x02\x00\x10\x00UI\x14\x00" + b"1.2.840.10008.1.2.1\x00")


def _load(data: bytes) -> None:
    try:
        doc = load_document(data, POLICY, "fuzz")
        adapter_for(doc.format).strip_metadata(doc, POLICY, lambda text, terms: [])
    except PhiGuardError:
        pass


def image(data: bytes) -> None:
    _load(data)


def dicom(data: bytes) -> None:
    _load(_DICOM_HEAD + data)


_POLICY_FILE = Path(tempfile.mkdtemp(prefix="phi_guard-fuzz-")) / "p.toml"


def policy(data: bytes) -> None:
    _POLICY_FILE.write_bytes(data)
    try:
        Policy.load(_POLICY_FILE)
    except PhiGuardError:
        pass


TARGETS = {"image": image, "dicom": dicom, "policy": policy}
SEEDS = {"image": ["photos", "dicom", "burned_in", "malformed", "dicom_malformed"], "dicom": ["dicom", "dicom_malformed"], "policy": []}


def _seed(target: str, corpus: Path) -> None:
    """An empty corpus folder starts from the test files (the default policy for
    the policy target)."""
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    if target == "policy":
        shutil.copy(ROOT / "phi_guard" / "default_policy.toml", corpus / "default_policy.toml")
        return
    for folder in SEEDS[target]:
        for p in sorted((ROOT / "tests" / "data" / folder).glob("*")):
            if p.is_file() and p.stat().st_size <= 1_000_000:
                data = p.read_bytes()
                if target == "dicom" and data[128:132] == b"DICM":
                    data = data[132:]
                (corpus / p.name).write_bytes(data)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(__doc__)
    target = sys.argv[1]
    args = [sys.argv[0]] + sys.argv[2:]
    if len(sys.argv) > 2 and not sys.argv[2].startswith("-") and not os.path.isfile(sys.argv[2]):
        _seed(target, Path(sys.argv[2]))
    atheris.Setup(args, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
