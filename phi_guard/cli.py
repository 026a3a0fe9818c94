"""Command line: a thin layer over the library.

Exit codes: 0 a safe output was written (clean or redacted), 1 blocked (nothing
written), 2 error (bad input or usage)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

EXIT_SAFE, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="phi-guard", description="Screen medical images for PHI before they are shared.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command")
    c = sub.add_parser("check", help="screen one image: write a safe copy, or block it")
    c.add_argument("input", help="image file (DICOM, JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF)")
    c.add_argument("-o", "--output", help="safe copy to write (default: <stem>.safe<suffix> beside the input; .dcm for DICOM); "
                   "its extension sets the format: .dcm keeps DICOM, .png/.jpg export a windowed image")
    c.add_argument("--report", help="write the JSON report here")
    c.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    c.add_argument("--style", choices=("fill", "blur", "pixelate"), help="redaction style (default from the policy: fill)")
    c.add_argument("--policy", help="policy TOML file (merged over the defaults)")
    c.add_argument("--include-phi", action="store_true", help="put raw identified values in the report (for a local audit only)")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    # Decoder warnings about malformed files are noise to a clinician; every
    # problem that matters becomes a typed error with a one-line message.
    warnings.simplefilter("ignore")
    args = _parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(f"phi-guard {__version__}")
        return EXIT_SAFE
    if args.command == "check":
        return _check(args)
    _parser().print_help(sys.stderr)
    return EXIT_ERROR


def _default_output(inp: Path) -> Path:
    """<stem>.safe<suffix> beside the input; DICOM (by content) always gets .dcm."""
    from .load import sniff_format
    from .write import _EXT_FORMATS

    try:
        with inp.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        head = b""
    if sniff_format(head) == "DICOM":
        return inp.with_name(f"{inp.stem}.safe.dcm")
    suffix = inp.suffix if inp.suffix.lower() in _EXT_FORMATS else ".png"
    return inp.with_name(f"{inp.stem}.safe{suffix}")


def _check(args: argparse.Namespace) -> int:
    from .errors import PhiGuardError, UsageError
    from .policy import Policy
    from .write import atomic_write, format_for_path

    inp = Path(args.input)
    out = Path(args.output) if args.output else _default_output(inp)
    report_path = Path(args.report) if args.report else None
    try:
        if out.exists() and inp.exists() and out.resolve() == inp.resolve():
            raise UsageError("the output would overwrite the input; choose another -o path")
        if report_path and inp.exists() and report_path.resolve() == inp.resolve():
            raise UsageError("the report would overwrite the input; choose another --report path")
        policy = Policy.load(args.policy) if args.policy else Policy.default()
        if args.style:
            policy = policy.with_style(args.style)
        if args.include_phi:
            from dataclasses import replace

            policy = replace(policy, include_phi_in_report=True)
        out_fmt = format_for_path(out)
        from .pipeline import screen

        result = screen(inp, policy, output_format=out_fmt)
    except PhiGuardError as exc:
        msg = str(exc)
        print(f"phi-guard: error: {msg}", file=sys.stderr)
        if report_path:
            err = {"schema_version": "1.0", "verdict": "ERROR", "error": {"code": exc.code, "message": msg},
                   "input": {"name": inp.name}}
            atomic_write(report_path, (json.dumps(err, indent=2) + "\n").encode())
        return exc.exit_code
    report = result.report
    written = None
    if result.safe_bytes is not None:
        written = str(result.save(out))
        report["output"]["path"] = str(out)
    if report_path:
        atomic_write(report_path, (json.dumps(report, indent=2) + "\n").encode())
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from .report import human_summary

        print(human_summary(report, written))
    return EXIT_BLOCKED if result.blocked else EXIT_SAFE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
