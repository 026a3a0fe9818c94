"""The screening pipeline, top to bottom:

    load -> strip metadata -> OCR -> detect -> decide -> redact -> verify -> report

:class:`Screener` builds the engines once (OCR models, Presidio, spaCy) and
reuses them for every image; the CLI, the batch workers and the web app all go
through :meth:`Screener.screen`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .decide import decide
from .detect import merge_findings
from .errors import EngineError, InputError, OutputError, PhiGuardError, UsageError
from .load import Document, distinct_frames, load_document, read_input
from .metadata import inventory_container, metadata_findings
from .ocr import OcrEngine, build_engine, read_frame
from .policy import Policy
from .redact import pad_boxes, redact
from .report import build_report
from .types import Decision, Finding, MetadataItem, Verdict, Where
from .dicom_flow import dicom_header_step, encode_dicom_output, verify_dicom_output
from .verify import verify_output
from .write import atomic_write, encode_image, format_for_path

if TYPE_CHECKING:  # pragma: no cover
    from .detect import Detector

T = TypeVar("T")


class _Background(Generic[T]):
    """Builds something in a background thread; ``get()`` waits for it. The detector
    loads this way: importing Presidio and spaCy is mostly Python work, while decoding
    and OCR run in C++ code that releases the GIL, so on a cold start the two overlap
    on separate cores. In a process forked while it was loading (the thread does not
    survive a fork), ``get()`` builds it again, in the calling thread."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._value: T | None = None
        self._error: BaseException | None = None
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="phi-guard-loader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with _short_switch_interval():
            try:
                self._value = self._build()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller of get()
                self._error = exc

    def get(self) -> T:
        if os.getpid() != self._pid:
            return self._build()
        self._thread.join()
        if self._error is not None:
            # A fresh exception each time (re-raising the stored one would grow its
            # traceback on every screen), chained to the original for debugging.
            raise EngineError(str(self._error) if isinstance(self._error, PhiGuardError)
                              else f"the identifier detector could not be loaded ({type(self._error).__name__})") from self._error
        if self._value is None:  # pragma: no cover - the thread ended without either
            raise EngineError("the identifier detector could not be loaded")
        return self._value


_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.005


@contextlib.contextmanager
def _short_switch_interval() -> Iterator[None]:
    """Tesseract, in the screening thread, takes the GIL back many times per page: with
    Python's default 5 ms switch interval it waits behind the loader's imports and runs
    2-3x slower. While any loader runs, the interval is 0.5 ms; the last one restores it."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, 0.0005))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


def _import_ocr_natives() -> None:
    """Import the OCR engines' native modules in this thread before the loader starts:
    importing a C extension in two threads at once can fail (numpy does, "partially
    initialized module"), and the loader imports numpy-based spaCy. A module that is
    missing is reported by the engine that needs it, as an EngineError."""
    for name in ("onnxruntime", "pyclipper", "tesserocr"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _load_detector(policy: Policy) -> "Detector":
    from .detect import Detector

    detector = Detector()
    detector.warm_up(policy)
    return detector


@dataclass(frozen=True)
class Result:
    """The outcome of screening one image."""

    decision: Decision
    findings: tuple[Finding, ...]
    metadata: tuple[MetadataItem, ...]
    report: dict[str, Any] = field(repr=False)
    safe_bytes: bytes | None = field(default=None, repr=False)
    output_format: str | None = None

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.decision.reasons

    @property
    def blocked(self) -> bool:
        return self.decision.verdict is Verdict.BLOCKED

    def save(self, path: str | Path) -> Path:
        """Write the verified safe copy (atomically). Refuses if the image was blocked."""
        if self.safe_bytes is None:
            raise OutputError("the image was blocked; there is no safe copy to save")
        if format_for_path(path) != self.output_format and not (
            {format_for_path(path), self.output_format} <= {"JPEG", "MPO"}
        ):
            raise UsageError(f"this result was encoded as {self.output_format}; screen again with output_format for {Path(path).suffix}")
        return atomic_write(path, self.safe_bytes)


class Screener:
    """Screens images with engines built once. Thread-compatible, not thread-safe:
    use one Screener per worker thread or process."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        ocr_engines: list[OcrEngine] | None = None,
        verify_engines: list[OcrEngine] | None = None,
        detector: Detector | None = None,
        threads: int = 0,
    ) -> None:
        self.policy = policy or Policy.default()
        # Presidio and spaCy load in the background (started first: they take longest)
        # while the OCR engines are built and the first image is decoded and read.
        _import_ocr_natives()
        self._detector = detector
        self._detector_loader = None if detector is not None else _Background(functools.partial(_load_detector, self.policy))
        mc = self.policy.ocr.min_confidence
        # Engines built here may share loaded models (they run one after another, under
        # this Screener's lock); injected engines are never shared.
        ours: list[OcrEngine] = []

        def build(name: str, variant: str = "screen") -> OcrEngine:
            engine = build_engine(name, mc, threads, variant=variant, built=ours)
            ours.append(engine)
            return engine

        self.ocr_engines = ocr_engines or [build(n) for n in self.policy.ocr.engines]
        self.verify_engines = verify_engines or [build(n, "verify") for n in self.policy.verify.engines]
        # Mask neighbourhoods are small crops: read them with the verification
        # settings (RapidOCR detecting at no more than 960 px, not upscaling a thin strip).
        by_name = {e.name: e for e in self.verify_engines}
        self.mask_engines = [by_name.get(n) or build(n, "verify") for n in self.policy.verify.recheck_masks_with]
        self._lock = threading.Lock()

    @property
    def detector(self) -> "Detector":
        if self._detector is None:
            assert self._detector_loader is not None
            self._detector = self._detector_loader.get()
            self._detector_loader = None
        return self._detector

    @functools.cached_property
    def engine_versions(self) -> dict[str, str]:
        """Engine versions for reports: looked up once, not on every screen."""
        return {
            "ocr": ", ".join(e.version() for e in self.ocr_engines),
            "verify": ", ".join(e.version() for e in self.verify_engines),
            "verify_masks": ", ".join(e.version() for e in self.mask_engines),
            "detect": self.detector.version(),
        }

    def screen(
        self, source: str | Path | bytes, *, policy: Policy | None = None, output_format: str | None = None, name: str | None = None
    ) -> Result:
        """Screen one image. Raises :class:`~phi_guard.errors.InputError` for input
        that cannot be decoded (nothing is written); otherwise returns a Result
        whose ``safe_bytes`` is set only when the output passed verification."""
        with self._lock:
            try:
                return self._screen(source, policy or self.policy, output_format, name)
            except PhiGuardError:
                raise
            except MemoryError:
                raise InputError("the image is too large to screen in the available memory; nothing was written") from None
            except Exception as exc:  # noqa: BLE001 - fail closed: an unexpected failure writes nothing
                raise EngineError(
                    f"screening failed unexpectedly ({type(exc).__name__}); nothing was written"
                ) from exc

    # -- the flow -------------------------------------------------------------------
    def _screen(self, source: str | Path | bytes, policy: Policy, output_format: str | None, name: str | None) -> Result:
        t: dict[str, float] = {}
        t0 = time.perf_counter()

        # 1. load: bytes in, decoded display pixels out (typed errors for bad input)
        data, display_name = read_input(source, policy.limits.max_bytes)
        doc: Document = load_document(data, policy, name or display_name)
        is_dicom = doc.format == "DICOM"
        t["load"] = time.perf_counter() - t0

        # 2. metadata: photos are inventoried (nothing is carried to the output);
        #    a DICOM header is de-identified by the Annex E profile on a copy.
        tm = time.perf_counter()
        header_terms: tuple[str, ...] = ()
        header = None
        if is_dicom:
            header = dicom_header_step(doc, policy, self.detector)
            metadata, header_terms = header.items, header.terms
        else:
            metadata = inventory_container(doc.data, doc.format)
        meta_findings = metadata_findings(metadata)
        t["metadata"] = time.perf_counter() - tm

        # 3. OCR and 4. detect, on every distinct frame (and DICOM overlay plane)
        tm = time.perf_counter()
        pixel_findings, overlay_findings, t_ocr = self._read_and_detect(doc, policy, header_terms)
        t["ocr"], t["detect"] = t_ocr, time.perf_counter() - tm - t_ocr

        out_fmt = output_format or _writable(doc.format)
        if out_fmt == "DICOM" and not is_dicom:
            raise UsageError(f"{doc.source_name}: is a {doc.format} image; it can only be written as an image, not as DICOM")
        if not doc.has_pixels and out_fmt != "DICOM":
            raise UsageError(f"{doc.source_name}: has no pixel data; only a DICOM output (.dcm) can be written")
        h, w = (doc.height, doc.width) if doc.has_pixels else (0, 0)
        rounds = 0
        verification: dict[str, Any] = {"engines": [e.name for e in self.verify_engines],
                                        "mask_recheck_engines": [e.name for e in self.mask_engines], "rounds": 0, "passed": False}
        safe: bytes | None = None
        output_note = ""
        masks: list[tuple[int, int, int, int]] = []
        t["redact"] = t["verify"] = 0.0
        while True:
            # 5. decide (a fixed overlay position found in one frame is masked in all)
            boxes = [b for f in pixel_findings for b in f.boxes]
            masks = pad_boxes(boxes, w, h, policy.redact)
            decision = decide(pixel_findings, metadata, masks, w, h, policy)
            if overlay_findings and not policy.dicom.remove_overlays:
                decision = Decision(Verdict.BLOCKED, decision.reasons + ("identifiers in a DICOM overlay plane that the policy keeps",))
            if decision.verdict is Verdict.BLOCKED:
                break
            # 6. redact and encode into a fresh container
            tm = time.perf_counter()
            if out_fmt == "DICOM":
                encoded, output_note = encode_dicom_output(doc, header, masks, policy)
            else:
                cleaned = redact(doc.frames[0], masks, policy.redact) if masks else doc.frames[0]
                encoded = encode_image(cleaned, out_fmt, policy)
                if len(doc.frames) > 1:
                    output_note = f"first of {len(doc.frames)} frames exported"
            t["redact"] += time.perf_counter() - tm
            # 7. verify: decode, inspect the container, re-read and re-detect the output
            tm = time.perf_counter()
            if out_fmt == "DICOM":
                outcome = verify_dicom_output(encoded, doc, masks, policy, self.verify_engines, self.detector,
                                              header_terms, self.mask_engines)
            else:
                outcome = verify_output(encoded, out_fmt, doc.frames[0].shape, masks, policy, self.verify_engines,
                                        self.detector, header_terms, mask_engines=self.mask_engines)
            t["verify"] += time.perf_counter() - tm
            rounds += 1
            verification["rounds"] = rounds
            if outcome.ok:
                safe = encoded
                verification["passed"] = True
                break
            if outcome.problems:
                verification["problems"] = list(outcome.problems)
                decision = Decision(Verdict.BLOCKED, decision.reasons + ("verification failed: " + "; ".join(outcome.problems),))
                break
            verification["residual_kinds"] = sorted({f.kind for f in outcome.residual})
            if rounds >= policy.verify.max_rounds:
                decision = Decision(
                    Verdict.BLOCKED,
                    decision.reasons + (f"identifiers still readable after {rounds} redaction round(s): "
                                        + ", ".join(sorted({f.kind for f in outcome.residual})),),
                )
                break
            # Still readable (or newly seen by the verification engines): mask those too.
            pixel_findings = merge_findings(pixel_findings + list(outcome.residual), across_frames=True)

        t["total"] = time.perf_counter() - t0
        findings = tuple(pixel_findings) + tuple(overlay_findings) + tuple(meta_findings)
        notes = list(doc.notes) + ([output_note] if output_note else [])
        report = build_report(
            input_info={"name": doc.source_name, "sha256": doc.sha256, "bytes": len(doc.data), "format": doc.format,
                        "width": w, "height": h, "frames_in_file": doc.frame_count_in_file},
            decision=decision,
            findings=list(findings),
            metadata=metadata,
            masks=masks if decision.verdict is not Verdict.BLOCKED else [],
            policy=policy,
            engines=dict(self.engine_versions),
            timings=t,
            output_info=({"format": out_fmt, "bytes": len(safe), "sha256": _sha256(safe)} if safe else None),
            verification=verification,
            notes=notes,
        )
        if header is not None:
            report["dicom"] = {"profile": header.profile, "options": header.options, "attributes": header.actions,
                               "pixels": "none (header only)" if not doc.has_pixels else "screened",
                               "burned_in_annotation_in_input": header.burned_in}
        return Result(decision, findings, tuple(metadata), report, safe, out_fmt if safe else None)

    def _read_and_detect(self, doc: Document, policy: Policy, header_terms: tuple[str, ...]) -> tuple[list[Finding], list[Finding], float]:
        """Screen each distinct frame: the first with every engine, the rest with the
        first engine (cine frames repeat the same overlay on changing anatomy)."""
        findings: list[Finding] = []
        t_ocr = 0.0
        for n, (i, frame) in enumerate(distinct_frames(doc.frames)):  # identical frames are screened once
            engines = self.ocr_engines if n == 0 else self.ocr_engines[:1]
            tm = time.perf_counter()
            reading = read_frame(engines, frame, i, policy.ocr.tile_size, policy.ocr.tile_overlap)
            t_ocr += time.perf_counter() - tm
            findings += self.detector.detect(reading, policy, header_terms, frame=i)
        overlay_findings: list[Finding] = []
        for group, plane in doc.overlays:
            tm = time.perf_counter()
            reading = read_frame(self.ocr_engines, plane, 0, policy.ocr.tile_size, policy.ocr.tile_overlap)
            t_ocr += time.perf_counter() - tm
            for f in self.detector.detect(reading, policy, header_terms):
                overlay_findings.append(dataclasses.replace(f, where=Where.OVERLAY, rule=f"overlay {group:04X}: {f.rule}"))
        # The same overlay text at the same place in many frames is one finding
        # (its masks apply to every frame anyway).
        return merge_findings(findings, across_frames=True), overlay_findings, t_ocr


def _writable(fmt: str) -> str:
    return {"MPO": "JPEG", "GIF": "PNG"}.get(fmt, fmt)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def engine_settings(policy: Policy) -> tuple[Any, ...]:
    """The parts of a policy that the engines are built from (everything else is
    passed per screen). Screeners built from equal settings are interchangeable."""
    return (policy.ocr.engines, policy.ocr.min_confidence, policy.verify.engines, policy.verify.recheck_masks_with)


_shared: dict[tuple[Any, ...], Screener] = {}
_shared_failures: dict[tuple[Any, ...], str] = {}
_shared_lock = threading.Lock()


def shared_screener(policy: Policy, threads: int = 0) -> Screener:
    """This process's Screener for the policy's engine settings, built on first use.

    Engines depend only on :func:`engine_settings`; everything else in a policy
    (style, thresholds, allow lists, DICOM options) is passed per screen, so a new
    style or allow list never reloads the models. Used by :func:`screen`, the batch
    workers and the web workers. An engine that failed to build is not retried for
    every image (a missing install does not fix itself): its error is raised again."""
    key = engine_settings(policy) + (threads,)
    with _shared_lock:
        if key in _shared_failures:
            raise EngineError(_shared_failures[key])
        screener = _shared.get(key)
        if screener is None:
            try:
                screener = _shared[key] = Screener(policy, threads=threads)
            except PhiGuardError as exc:
                _shared_failures[key] = str(exc)
                raise
    return screener


def _forget_shared_screeners() -> None:
    # A forked child builds its own (the parent's loader threads do not survive a fork).
    _shared.clear()
    _shared_failures.clear()


os.register_at_fork(after_in_child=_forget_shared_screeners)


def screen(source: str | Path | bytes, policy: Policy | None = None, *, output_format: str | None = None) -> Result:
    """Screen one image with engines built once per process and reused."""
    policy = policy or Policy.default()
    return shared_screener(policy).screen(source, policy=policy, output_format=output_format)


__all__ = ["Result", "Screener", "engine_settings", "screen", "shared_screener", "Where"]
