"""The screening pipeline, top to bottom:

    load -> read -> strip metadata -> detect -> decide -> redact -> verify -> report

Each step is one call into its stage; what differs between container formats lives
in the format adapters (:mod:`phi_guard.formats`), never here. Metadata is stripped
after the OCR has read the pixels: a medical image header's free text is cleaned by
the detector (Presidio and spaCy), which loads in the background from the moment the
pixels show words that are not markers; a clean image never waits for it.

:class:`Screener` builds the engines once (the OCR models at once, the detector when
first needed) and reuses them for every image; the CLI, the batch workers and the web app all go
through :meth:`Screener.screen`.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .decide import decide
from .detect import find_in_readings, merge_findings
from .detect.pixels import MarkersFirst, detector_version, markers_only
from .errors import EngineError, InputError, OutputError, PhiGuardError, UsageError
from .formats import Encoded, adapter_for
from .formats.base import digest
from .load import input_adapter, read_input
from .ocr import REGION_SETTINGS, SCREEN_SETTINGS, OcrEngine, ReadSettings, build_engine, read_renderings
from .policy import Policy
from .redact import mask_boxes
from .report import build_report
from .timing import Stopwatch
from .types import Decision, Finding, MetadataItem, Verdict, VerifyOutcome, Where
from .verify import VERIFY_SETTINGS, VerificationLog, VerifyEngines, verify_output
from .vision import CodeDetector, FaceDetector, PictureDetectors, find_in_pictures, read_beside_codes
from .write import atomic_write, format_for_path

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


def load_detector(policy: Policy) -> Detector:
    """Presidio, spaCy and phi_guard's recognizers, built and warmed up for ``policy``
    (about 2.5 s of Python work: callers load it only when a text needs it)."""
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
        """CLEAN, REDACTED or BLOCKED."""
        return self.decision.verdict

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why, in words a person can read (kinds and counts, never values)."""
        return self.decision.reasons

    @property
    def blocked(self) -> bool:
        """True when nothing may be written."""
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
        mask_engines: list[OcrEngine] | None = None,
        detector: Detector | None = None,
        face_detector: FaceDetector | None = None,
        code_detector: CodeDetector | None = None,
        threads: int = 0,
    ) -> None:
        """Build (or take) the engines: ``ocr_engines`` screen, ``verify_engines`` re-read
        outputs, ``mask_engines`` re-read the masks' neighbourhoods, ``face_detector``
        and ``code_detector`` look at the pictures (faces, barcodes, 2-D codes); by
        default they are built from the policy. Raises EngineError when an engine cannot be built."""
        self.policy = policy or Policy.default()
        # Presidio and spaCy (most of a cold start) load only for an image that needs
        # them: in the background from the moment its reading shows words that are not
        # markers, while faces and codes are searched. Loading them for every image
        # would slow a clean image's screening (the loader's imports hold the GIL).
        _import_ocr_natives()
        self._detector = detector
        self._detector_loader: _Background[Detector] | None = None
        mc = self.policy.ocr.min_confidence
        # Engines built here may share loaded models (they run one after another, under
        # this Screener's lock); injected engines are never shared.
        ours: list[OcrEngine] = []

        def build(name: str, settings: ReadSettings = SCREEN_SETTINGS) -> OcrEngine:
            engine = build_engine(name, mc, threads, settings, built=ours, int8_detector=self.policy.ocr.int8_detector)
            ours.append(engine)
            return engine

        self.ocr_engines = ocr_engines or [build(n) for n in self.policy.ocr.engines]
        self.verify_engines = verify_engines or [build(n, VERIFY_SETTINGS) for n in self.policy.verify.engines]
        # Mask neighbourhoods are small crops: read them with the verification
        # settings (RapidOCR detecting at no more than 960 px, not upscaling a thin strip).
        by_name = {e.name: e for e in self.verify_engines}
        self.mask_engines = mask_engines if mask_engines is not None else [
            by_name.get(n) or build(n, VERIFY_SETTINGS) for n in self.policy.verify.recheck_masks_with]
        # Changed regions of a clip's later frames are crops: the first screening engine
        # reads them set up for crops (injected engines are used as they are).
        self.region_engines = self.ocr_engines[:1] if ocr_engines else [build(self.policy.ocr.engines[0], REGION_SETTINGS)]
        # Faces and printed codes: the face model loads on first use, once per process.
        self.pictures = PictureDetectors(face_detector or FaceDetector(self.policy.faces, threads=threads),
                                         code_detector or CodeDetector(self.policy.codes))
        self._lock = threading.Lock()

    @property
    def detector(self) -> Detector:
        """The identifier detector: loaded on first use (or waited for, when its
        background load has started)."""
        if self._detector is None:
            self.start_loading_detector()  # one way to load, with one kind of error
            assert self._detector_loader is not None
            self._detector = self._detector_loader.get()
            self._detector_loader = None
        return self._detector

    def start_loading_detector(self) -> None:
        """Start loading the detector in the background, if it is not loaded or loading."""
        if self._detector is None and self._detector_loader is None:
            self._detector_loader = _Background(functools.partial(load_detector, self.policy))

    @functools.cached_property
    def engine_versions(self) -> dict[str, str]:
        """Engine versions for reports: looked up once, not on every screen."""
        return {
            "ocr": ", ".join(e.version() for e in self.ocr_engines),
            "verify": ", ".join(e.version() for e in self.verify_engines),
            "verify_masks": ", ".join(e.version() for e in self.mask_engines),
            "pictures": self.pictures.versions(),
            # Without loading the detector (a clean image's screening may never need it).
            "detect": self._detector.version() if self._detector is not None else detector_version(),
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
    def _screen(self, source: str | Path | bytes, policy: Policy, requested_format: str | None, name: str | None) -> Result:
        clock = Stopwatch(("load", "metadata", "ocr", "pictures", "detect", "redact", "verify"))

        # 1. load: bytes in, decoded frames and the renderings to read out (typed errors
        #    for bad input); the output format is settled before any expensive work.
        with clock("load"):
            data, display_name = read_input(source, policy.limits.max_bytes)
            source_format = input_adapter(data, name or display_name)
            doc = source_format.open(data, name or display_name, policy)
            out_fmt = source_format.output_format(doc, requested_format)
            # The input's adapter writes its own kind of output (an animation stays one).
            writer = source_format if out_fmt in source_format.formats else adapter_for(out_fmt)

        # 2. read: OCR every rendering (every distinct frame, or what changed in it, and
        #    planes drawn over them; a clip's frames stream through here one at a time),
        #    and look at the frames themselves: faces, barcodes and 2-D codes
        with clock("ocr"):
            readings = read_renderings(self.ocr_engines, doc.renderings, policy.ocr.tile_size, policy.ocr.tile_overlap,
                                       self.region_engines, around_first=policy.ocr.later_engines == "around-detected")
        if not all(markers_only(reading, policy) for _, reading in readings):
            self.start_loading_detector()  # words to judge: the detector loads while pictures are searched
        with clock("pictures"):
            pictures = find_in_pictures(self.pictures, doc, policy)
        with clock("ocr"):  # the print beside a code (a wristband's name), enlarged
            readings += read_beside_codes(self.ocr_engines[:1], doc, pictures.findings)

        # 3. strip metadata: the container's inventory, and what it says about the patient
        with clock("metadata"):
            metadata = source_format.strip_metadata(doc, policy, functools.partial(self._find_in_text, policy))

        # 4. detect identifiers in what was read (faces and codes are identifiers as found)
        # (markers alone, such as "R" or "PA ERECT", need no Presidio: a clean image does
        # not wait for it to load)
        detector = MarkersFirst(lambda: self.detector)
        with clock("detect"):
            pixel_findings, overlay_findings = find_in_readings(detector, readings, policy, metadata.terms)
            pixel_findings += pictures.findings

        engines = VerifyEngines(self.verify_engines, self.mask_engines, self.pictures)
        log = VerificationLog([e.name for e in self.verify_engines], [e.name for e in self.mask_engines])
        encoded: Encoded | None = None
        outcome: VerifyOutcome | None = None
        while True:
            # 5. decide (a fixed overlay position found in one frame is masked in all; text
            #    masks follow the glyphs' ink, so the next line's markers stay readable;
            #    after a failed verification, every rendering's glyph rows count)
            masks, text_masks = mask_boxes(pixel_findings, doc.held_renderings, doc.width, doc.height, policy.redact,
                                           widest=log.rounds > 0)
            decision = decide(pixel_findings, metadata.items, text_masks, doc.width, doc.height, policy,
                              overlay_findings=overlay_findings, verification=outcome, rounds=log.rounds, kept=pictures.kept)
            if decision.verdict is Verdict.BLOCKED or (outcome is not None and outcome.ok):
                break
            # 6. redact and encode into a fresh container
            with clock("redact"):
                encoded = writer.encode(doc, metadata, masks, policy, out_fmt)
            # 7. verify: decode, inspect the container, re-read and re-detect the output
            with clock("verify"):
                outcome = verify_output(encoded, writer, doc, metadata, masks, policy, engines, detector,
                                        frozenset(f.frame for f in pixel_findings), text_masks)
            log.record(outcome)
            if outcome.residual and not outcome.problems and log.rounds < policy.verify.max_rounds:
                # Still readable (or newly seen by the verification engines): mask those too.
                pixel_findings = merge_findings(pixel_findings + list(outcome.residual), across_frames=True)
                outcome = None

        # 8. report
        safe = encoded.data if encoded is not None and outcome is not None and outcome.ok else None
        findings = tuple(pixel_findings) + tuple(overlay_findings) + metadata.findings + pictures.kept
        report = build_report(
            input_info={"name": doc.source_name, "sha256": doc.sha256, "bytes": len(doc.data), "format": doc.format,
                        "width": doc.width, "height": doc.height, "frames_in_file": doc.frame_count_in_file},
            decision=decision,
            findings=list(findings),
            metadata=list(metadata.items),
            masks=masks if decision.verdict is not Verdict.BLOCKED else [],
            policy=policy,
            engines=dict(self.engine_versions),
            timings=clock.report(),
            output_info=({"format": out_fmt, "bytes": len(safe), "sha256": digest(safe)} if safe else None),
            verification=log.as_dict(),
            notes=list(doc.notes) + list(pictures.notes) + ([encoded.note] if encoded is not None and encoded.note else []),
        )
        report.update(metadata.report_sections)
        return Result(decision, findings, metadata.items, report, safe, out_fmt if safe else None)

    def _find_in_text(self, policy: Policy, text: str, terms: tuple[str, ...]) -> list[tuple[int, int, str]]:
        return self.detector.find_in_text(text, policy, terms)


def engine_settings(policy: Policy) -> tuple[Any, ...]:
    """The parts of a policy that the engines are built from (everything else is
    passed per screen). Screeners built from equal settings are interchangeable."""
    return (policy.ocr.engines, policy.ocr.min_confidence, policy.ocr.int8_detector, policy.verify.engines,
            policy.verify.recheck_masks_with)


_shared: dict[tuple[Any, ...], Screener] = {}
_shared_failures: dict[tuple[Any, ...], str] = {}
_shared_lock = threading.Lock()


def shared_screener(policy: Policy, threads: int = 0) -> Screener:
    """This process's Screener for the policy's engine settings, built on first use.

    Engines depend only on :func:`engine_settings`; everything else in a policy
    (style, thresholds, allow lists, header options) is passed per screen, so a new
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
