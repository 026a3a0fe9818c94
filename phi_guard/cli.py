"""Command line: a thin layer over the library.

Exit codes: 0 a safe output was written (clean or redacted), 1 blocked (nothing
written), 2 error (bad input or usage)."""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from .policy import STYLES, Policy

EXIT_SAFE, EXIT_BLOCKED, EXIT_ERROR = 0, 1, 2


_MAX_SIDE_HELP = ("scale photos longer than PX on their long side down first (the safe copy is that size; "
                  "2048 is what social apps post, and 3-4x faster on a 12 MP phone photo); 0 keeps the size (default from the policy: 0)")


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
    c.add_argument("--style", choices=STYLES, help="redaction style (default from the policy: fill)")
    c.add_argument("--max-side", type=int, metavar="PX", help=_MAX_SIDE_HELP)
    c.add_argument("--policy", help="policy TOML file (merged over the defaults)")
    c.add_argument("--include-phi", action="store_true", help="put raw identified values in the report (for a local audit only)")
    sc = sub.add_parser("scan", help="screen a whole folder into a mirror folder, in parallel, resumable")
    sc.add_argument("input_dir")
    sc.add_argument("-o", "--output-dir", required=True, help="where the safe copies go (a mirror of the input tree)")
    sc.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    sc.add_argument("--policy", help="policy TOML file")
    sc.add_argument("--style", choices=STYLES)
    sc.add_argument("--max-side", type=int, metavar="PX", help=_MAX_SIDE_HELP)
    sc.add_argument("--report-dir", help="where report.jsonl, summary.csv and summary.html go (default: the output folder)")
    sc.add_argument("--resume", action="store_true", help="skip files finished by an earlier run (unchanged since)")
    sc.add_argument("--include-phi", action="store_true", help="put raw identified values in the reports and write "
                    "name_map.csv (neutral names -> real paths, owner-only) in the report folder (for a local audit only)")
    sc.add_argument("--strict", action="store_true", help="treat skipped files (not images, special files, "
                    "links out of the folder) as errors: exit code 2")
    sc.add_argument("--engine", choices=("local", "dask"), default="local")
    sc.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (implies --engine dask)")
    sv = sub.add_parser("serve", help="start the local web page and HTTP API")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this computer only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--policy", help="policy TOML file")
    sv.add_argument("--api-key", help="API key required on every API call (or set PHI_GUARD_API_KEY); "
                    "mandatory when binding to anything but localhost")
    sv.add_argument("--workers", type=int, default=None, help="screening worker processes (default: CPU count)")
    sv.add_argument("--max-upload-mb", type=float, default=50.0)
    sv.add_argument("--time-limit", type=float, default=120.0, help="seconds per request before it fails with 504")
    sv.add_argument("--uds", metavar="PATH", help="listen on this unix socket (mode 0660) instead of a TCP port")
    sv.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                    help="hospital sign-in proxy mode: answer only requests from this address or network "
                    "(repeatable; 'unix' for the --uds socket) that carry the signed-in user header")
    sv.add_argument("--user-header", default="X-Forwarded-User",
                    help="header in which the trusted proxy names the signed-in user (default X-Forwarded-User)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: sys.argv); returns the exit code."""
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
    if args.command == "scan":
        return _scan(args)
    if args.command == "serve":
        return _serve(args)
    _parser().print_help(sys.stderr)
    return EXIT_ERROR


def _default_output(inp: Path) -> Path | None:
    """<stem>.safe<suffix> beside the input; DICOM (by content) always gets .dcm; None
    for a video (its output container, MP4 or WebM, is known once it is opened)."""
    from .errors import InputError
    from .formats.video.sniff import sniff_video
    from .inputs import read_regular_file
    from .load import sniff_format
    from .write import EXTENSION_FORMATS

    try:
        head = read_regular_file(inp, 0, head=4096)
    except InputError:
        head = b""  # screening reports the problem
    if sniff_format(head) == "DICOM":
        return inp.with_name(f"{inp.stem}.safe.dcm")
    if sniff_format(head) is None and sniff_video(head):
        return None
    suffix = inp.suffix if inp.suffix.lower() in EXTENSION_FORMATS else ".png"
    return inp.with_name(f"{inp.stem}.safe{suffix}")


def _check(args: argparse.Namespace) -> int:
    from .errors import InputError, PhiGuardError, UsageError
    from .inputs import check_regular_file
    from .names import plainly_generic, screened_text
    from .names import scrub_name as scrub
    from .outputs import check_writable, remove_stale, write_together
    from .write import default_extension, format_for_path

    inp = Path(args.input)
    try:
        check_regular_file(inp)  # a device, pipe or socket is refused at once, never read
    except PhiGuardError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    out = Path(args.output) if args.output else _default_output(inp)
    report_path = Path(args.report) if args.report else None
    try:
        if out is not None and out.exists() and inp.exists() and out.resolve() == inp.resolve():
            raise UsageError("the output would overwrite the input; choose another -o path")
        if report_path and inp.exists() and report_path.resolve() == inp.resolve():
            raise UsageError("the report would overwrite the input; choose another --report path")
        if report_path and out is not None and report_path.resolve() == out.resolve():
            raise UsageError("the report and the safe copy would be the same file; choose another --report path")
        # Every output path is checked before screening: a write failure after a
        # minute of OCR would be a traceback, not a one-line error.
        if out is not None:  # a video's output is named once its container is known
            check_writable(out, "output")
        if report_path:
            check_writable(report_path, "report")
        policy = _policy_from(args)
        if args.include_phi:
            from dataclasses import replace

            policy = replace(policy, include_phi_in_report=True)
        out_fmt = format_for_path(out) if out is not None else None
    except PhiGuardError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from .pipeline import screen, shared_screener
    from .progress import frame_progress

    # A long clip shows "frame i/n" on a terminal (never in --json output).
    show = sys.stderr.isatty() and not args.json
    try:
        # The input's name is screened for identifiers after its pixels: the detector
        # it needs loads meanwhile, in the background (a plain name needs none).
        if not plainly_generic(screened_text(inp.name, is_file=True), policy):
            shared_screener(policy).start_loading_detector()
        with frame_progress(_show_frame if show else _no_progress):
            result = screen(inp, policy, output_format=out_fmt)
        if show:
            sys.stderr.write("\r\033[K")
    except PhiGuardError as exc:
        shown = _shown_name(policy, inp.name)
        msg = scrub(str(exc), inp.name, shown)
        stale = _stale_candidates(out, inp, shown, args.output)
        # This input failed: an output at its path from an earlier run is not its result.
        failed = isinstance(exc, InputError) or exc.code == "engine_failed"
        removed = any([remove_stale(p) for p in stale]) if failed else False
        out = stale[0]
        print(f"phi-guard: error: {msg}" + (f" (an earlier output at {out} was removed)" if removed else ""), file=sys.stderr)
        if report_path:
            from .report import REPORT_SCHEMA_VERSION

            err = {"schema_version": REPORT_SCHEMA_VERSION, "verdict": "ERROR", "error": {"code": exc.code, "message": msg},
                   "input": {"name": shown}}
            try:
                write_together([(report_path, (json.dumps(err, indent=2) + "\n").encode())])
            except PhiGuardError:
                pass  # the error is already on stderr
        return exc.exit_code
    shown = _shown_name(policy, inp.name)
    report = scrub(result.report, inp.name, shown)
    if shown != inp.name:
        if args.include_phi:
            report["input"]["original_name"] = inp.name  # asked for explicitly: a local audit
        if not args.output and out is not None:
            out = _masked_default(out, inp, shown)
    written = None
    files: list[tuple[Path, bytes]] = []
    if result.safe_bytes is not None:
        if out is None:
            out = inp.with_name(f"{Path(shown).stem}.safe{default_extension(result.output_format or '')}")
        report["output"]["path"] = str(out)
        files.append((out, result.safe_bytes))
    stale = [out] if out is not None else _stale_candidates(None, inp, shown, args.output)
    removed = any([remove_stale(p) for p in stale]) if result.safe_bytes is None else False
    out = out or stale[0]
    if report_path:
        files.append((report_path, (json.dumps(report, indent=2) + "\n").encode()))
    try:
        write_together(files)
    except PhiGuardError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if result.safe_bytes is not None:
        written = str(out)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from .report import human_summary

        print(human_summary(report, written))
        if removed:
            print(f"  an earlier output at {out} was removed: it is not a result of this run")
    return EXIT_BLOCKED if result.blocked else EXIT_SAFE



def _shown_name(policy: Policy, name: str) -> str:
    """The input's name as reports and messages show it: a neutral name when the
    name itself carries identifiers (or when it cannot be screened)."""
    from .errors import PhiGuardError
    from .names import NameScreen
    from .pipeline import shared_screener

    names = NameScreen(policy, lambda: shared_screener(policy).detector)
    try:
        return names.part(name, is_file=True)
    except PhiGuardError:
        return names.neutral(name, is_file=True)  # fail closed: no detector, no raw name


def _stale_candidates(out: Path | None, inp: Path, shown: str, given: str | None) -> list[Path]:
    """The output path(s) an earlier run may have written for this input: the given or
    default path, named after the neutral name when the input's name identifies; for a
    video, both containers it could have been written as."""
    if out is None:
        return [inp.with_name(f"{Path(shown).stem}.safe{ext}") for ext in (".mp4", ".webm")]
    return [out if given else _masked_default(out, inp, shown)]


def _masked_default(out: Path, inp: Path, shown: str) -> Path:
    """The default output path, named after the neutral name when the input's name identifies."""
    if shown == inp.name:
        return out
    return out.with_name(Path(shown).stem + out.name[len(inp.stem):])


def _show_frame(done: int, total: int) -> None:
    if done == total or done % 10 == 0:
        sys.stderr.write(f"\rframe {done}/{total}")
        sys.stderr.flush()


def _no_progress(done: int, total: int) -> None:
    return None


def _policy_from(args: argparse.Namespace) -> Policy:
    """The policy file given (or the defaults), with the --style and --max-side overrides
    where the command has them."""
    policy = Policy.load(args.policy) if args.policy else Policy.default()
    if getattr(args, "style", None):
        policy = policy.with_style(args.style)
    if getattr(args, "max_side", None) is not None:
        policy = policy.with_max_side(args.max_side)
    return policy


class _Progress:
    """A one-line progress bar on a terminal; plain periodic lines otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, every_s: float = 10.0) -> None:
        import time

        self.stream, self.tty, self.every, self.last = stream, stream.isatty(), every_s, time.monotonic()

    def __call__(self, p: dict[str, Any]) -> None:
        import time

        eta = f"{p['eta_s']:.0f} s" if p.get("eta_s") is not None else "?"
        line = f"{p['done']}/{p['total']} files  {p['rate']:.2f}/s  ETA {eta}"
        if self.tty:
            width = 30
            filled = int(width * p["done"] / max(p["total"], 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}   ")
            self.stream.flush()
            if p["done"] >= p["total"]:
                self.stream.write("\n")
        elif time.monotonic() - self.last >= self.every or p["done"] >= p["total"]:
            self.last = time.monotonic()
            print(line, file=self.stream, flush=True)


def _scan(args: argparse.Namespace) -> int:
    from .batch import scan_folder
    from .batch.reports import terminal_summary
    from .errors import PhiGuardError

    try:
        policy = _policy_from(args)
        if args.include_phi:
            import copy

            from .policy import Policy

            table = copy.deepcopy(policy.table)
            table["report"]["include_phi"] = True
            policy = Policy.from_table(table, source=policy.source)
        summary = scan_folder(
            args.input_dir, args.output_dir, workers=args.workers, policy=policy, report_dir=args.report_dir,
            resume=args.resume, engine="dask" if args.scheduler else args.engine, scheduler=args.scheduler,
            progress=_Progress(), strict=args.strict,
        )
    except PhiGuardError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(terminal_summary(summary))
    return summary.exit_code


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _serve(args: argparse.Namespace) -> int:
    from .errors import PhiGuardError

    api_key = args.api_key or os.environ.get("PHI_GUARD_API_KEY") or None
    if args.trusted_proxy and not args.uds and args.host not in _LOCAL_HOSTS:
        # Behind the proxy the app must not be reachable by anything else.
        print("phi-guard: error: with --trusted-proxy, listen on localhost or a unix socket (--uds) only", file=sys.stderr)
        return EXIT_ERROR
    if not args.uds and args.host not in _LOCAL_HOSTS and not api_key:
        print("phi-guard: error: binding to a non-local address needs an API key (--api-key or PHI_GUARD_API_KEY)", file=sys.stderr)
        return EXIT_ERROR
    try:
        policy = _policy_from(args)
        from .web.app import parse_trusted_proxies

        trusted = parse_trusted_proxies(args.trusted_proxy)
    except PhiGuardError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"phi-guard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    import uvicorn

    from .web import create_app
    from .web.app import ServerConfig

    cfg = ServerConfig(policy=policy, api_key=api_key, workers=args.workers or os.cpu_count() or 1,
                       max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), time_limit_s=args.time_limit,
                       trusted_proxies=trusted, user_header=args.user_header)
    # No access log: request lines carry no PHI, but nothing about uploads is logged at all.
    # proxy_headers off: the peer address must be the real one, not what X-Forwarded-For claims.
    options: dict[str, Any] = {"access_log": False, "log_level": "warning", "proxy_headers": False, "server_header": False}
    mode = f" (only through the sign-in proxy at {', '.join(trusted)})" if trusted else ""
    if args.uds:
        try:
            sock = _unix_socket(Path(args.uds))
        except OSError as exc:
            print(f"phi-guard: error: cannot listen on {args.uds}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"phi_guard page and API on unix socket {args.uds}{mode}", file=sys.stderr)
        uvicorn.run(create_app(cfg), fd=sock.fileno(), **options)
        return EXIT_SAFE
    print(f"phi_guard page and API on http://{args.host}:{args.port}/{mode} (API docs: /docs, schema: /openapi.json)", file=sys.stderr)
    uvicorn.run(create_app(cfg), host=args.host, port=args.port, **options)
    return EXIT_SAFE


def _unix_socket(path: Path) -> socket.socket:
    """A listening unix socket that only its owner and group can connect to (give the
    proxy's user the group). Created with the mode already set: no moment of 0666."""
    import stat

    if path.exists() and stat.S_ISSOCK(path.stat().st_mode):
        path.unlink()  # a stale socket from an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    sock.listen(128)
    return sock


def run() -> None:
    """The ``phi-guard`` command. After a one-shot ``check`` everything is already
    written (atomically, fsynced) and printed, so the process ends at once: tearing
    down spaCy, Presidio and the OCR engines at interpreter exit takes about 0.4 s
    that a clinician would otherwise wait for. Other commands exit normally."""
    code = main()
    if len(sys.argv) > 1 and sys.argv[1] == "check":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
