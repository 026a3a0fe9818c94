"""Hostile inputs for the fuzz and replay tests.

* :func:`seed_files`: the committed test files every derived input starts from.
* :func:`derived_inputs`: deterministic truncations and bit-flips of a file (seeded by
  its name, so a failure names an input anyone can regenerate). Nothing derived is
  committed: the corpus is made at test time.
* :class:`LoaderSandbox`: runs the loader stage (read, sniff, decode, inventory the
  metadata) on one file at a time in a child process, with a time limit per input, so
  a hang or a crash in a C decoder is reported as such instead of stopping the suite.
* :func:`load_stage`: what the sandbox runs, also called in-process by the hypothesis tests.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import select
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SAMPLES = HERE.parent / "sample_images"

# Where the originals come from: every committed image (and non-image) in tests/data and
# the committed sample images. Licence files and notes are inputs too (a scan meets them).
SEED_DIRS = ("photos", "dicom", "burned_in", "malformed", "dicom_malformed")


def seed_files() -> list[Path]:
    files = [p for d in SEED_DIRS for p in sorted((DATA / d).iterdir()) if p.is_file()]
    files += [p for p in sorted(SAMPLES.iterdir()) if p.is_file() and p.suffix != ".py"]
    return files


def malformed_files() -> list[Path]:
    return [p for d in ("malformed", "dicom_malformed") for p in sorted((DATA / d).iterdir()) if p.is_file()]


def _rng(name: str, salt: str) -> random.Random:
    return random.Random(zlib.crc32(f"{name}:{salt}".encode()))


def truncations(data: bytes) -> list[tuple[str, bytes]]:
    """Cuts at format-relevant offsets (inside magic numbers, the DICOM preamble and
    meta header, a typical first segment) and at fractions of the file."""
    n = len(data)
    cuts = {1, 7, 16, 64, 131, 200, 1024, n // 4, n // 2, (9 * n) // 10, n - 1}
    return [(f"trunc{c}", data[:c]) for c in sorted(cuts) if 0 < c < n]


def bit_flips(name: str, data: bytes, variants: int = 10) -> list[tuple[str, bytes]]:
    """Seeded bit flips: some in the first 2 KiB (headers, where parsers decide sizes
    and offsets), some anywhere; 1 to 64 bits each."""
    out = []
    if not data:
        return out
    for v in range(variants):
        rng = _rng(name, f"flip{v}")
        buf = bytearray(data)
        span = min(len(buf), 2048) if v % 2 == 0 else len(buf)
        for _ in range((1, 4, 16, 64, 2, 8, 1, 32)[v % 8]):
            i = rng.randrange(span)
            buf[i] ^= 1 << rng.randrange(8)
        out.append((f"flip{v}", bytes(buf)))
    return out


def derived_inputs(path: Path) -> list[tuple[str, bytes]]:
    data = path.read_bytes()
    return truncations(data) + bit_flips(path.name, data)


def load_stage(data: bytes, name: str = "<fuzz>"):  # noqa: ANN201 - a Document
    """Every stage that parses the input's bytes before OCR: sniff, decode, and the
    metadata stage (photo container inventory, or the DICOM header's de-identification
    on a copy). Raises only phi_guard's typed errors if the loaders keep their promise."""
    from phi_guard.load import input_adapter

    policy = _policy()
    adapter = input_adapter(data, name)
    doc = adapter.open(data, name, policy)
    adapter.strip_metadata(doc, policy, lambda text, terms: [])
    return doc


_POLICY = None


def _policy():  # noqa: ANN202
    global _POLICY
    if _POLICY is None:
        from phi_guard.policy import Policy

        # A small pixel limit keeps bit-flipped sizes from allocating gigabytes here;
        # the limit itself is what is being exercised.
        _POLICY = Policy.from_table({"limits": {"max_pixels": 40_000_000}})
    return _POLICY


def check_document(doc) -> None:  # noqa: ANN001
    """What every decoded document promises the later stages."""
    import numpy as np

    for frame in doc.frames:
        assert frame.dtype == np.uint8, frame.dtype
        assert frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3), frame.shape
        assert frame.shape[0] > 0 and frame.shape[1] > 0
    assert doc.sha256 == hashlib.sha256(doc.data).hexdigest()


# -- the sandbox ------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    kind: str  # ok | typed | untyped | timeout | crash
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.kind in ("ok", "typed")


class LoaderSandbox:
    """A child process that runs :func:`load_stage` on the files it is sent, one JSON
    line back per file. A child that does not answer within ``timeout_s`` is killed
    (the input hangs a decoder); one that dies is a crash. Either way a fresh child
    takes the next input."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "OMP_THREAD_LIMIT": "1", "OMP_NUM_THREADS": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), str(HERE), env.get("PYTHONPATH", "")])
        return subprocess.Popen([sys.executable, "-c", "import hostile; hostile._serve()"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(HERE))

    def run(self, path: Path) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write((str(path) + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        if not ready:
            self.close()
            return Outcome("timeout", f"no answer within {self.timeout_s:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return Outcome("crash", f"the loader process died (exit {code})")
        answer = json.loads(line)
        return Outcome(answer["kind"], answer["detail"])

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> "LoaderSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve() -> None:
    """The child's loop (see :class:`LoaderSandbox`)."""
    import traceback
    import warnings

    warnings.simplefilter("ignore")
    from phi_guard.errors import PhiGuardError

    from phi_guard.load import read_input

    for line in sys.stdin:
        path = line.rstrip("\n")
        try:
            data, name = read_input(path, _policy().limits.max_bytes)
            doc = load_stage(data, name)
            check_document(doc)
            answer = {"kind": "ok", "detail": f"{doc.format} {len(doc.frames)} frame(s)"}
        except PhiGuardError as exc:
            answer = {"kind": "typed", "detail": f"{type(exc).__name__}: {exc}"}
        except BaseException as exc:  # noqa: BLE001 - exactly what the replay test looks for
            where = traceback.extract_tb(exc.__traceback__)[-1]
            answer = {"kind": "untyped", "detail": f"{type(exc).__name__}: {str(exc)[:200]} at {where.filename}:{where.lineno}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under a folder with its SHA-256: the input is untouched and nothing
    was written beside it when two of these are equal."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
