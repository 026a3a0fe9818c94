"""Property-based fuzzing (hypothesis) of every loader: photo formats, DICOM, the policy
TOML, and multipart uploads to the web API. The contract everywhere: the input is
accepted (and then well-formed) or refused with one of phi_guard's typed errors.

These run in CI, bounded (a few hundred examples each, small inputs, no OCR: the
stages that parse bytes are what is fuzzed). Long runs use tools/fuzz_atheris.py
(docs/fuzzing.md). With CI set, examples are derandomized so a run is reproducible;
locally each run explores new inputs and hypothesis keeps failures in .hypothesis/.
"""
from __future__ import annotations

import io
import math
import os
import struct
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from phi_guard.errors import PhiGuardError, PolicyError
from phi_guard.policy import Policy

from hostile import check_document, load_stage, seed_files

# Decoders warn about every hostile input; the contract is about exceptions.
pytestmark = pytest.mark.filterwarnings("ignore")

FUZZ = settings(
    max_examples=int(os.environ.get("PHI_GUARD_FUZZ_EXAMPLES", "200")),
    deadline=timedelta(seconds=10),  # a busy CI machine; a real hang is the replay test's job
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

# Small originals keep an example in milliseconds; every format is represented.
SMALL = [p for p in seed_files() if p.stat().st_size <= 60_000]
SMALL_BYTES = {p.name: p.read_bytes() for p in SMALL}


def _loads_or_typed_error(data: bytes) -> None:
    try:
        doc = load_stage(data)
    except PhiGuardError as exc:
        assert str(exc) and "\n" not in str(exc), repr(exc)
        return
    check_document(doc)


# -- photos and DICOM files, mutated --------------------------------------------------

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 1 << 30), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 30), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 30), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 30), st.integers(1, 512)),
    st.tuples(st.just("int32"), st.integers(0, 1 << 30), st.sampled_from([0, 1, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF])),
)


def _mutate(data: bytes, ops: list[tuple]) -> bytes:
    buf = bytearray(data)
    for op, pos, arg in ops:
        if not buf:
            break
        # Offsets near the start (headers, where sizes and offsets live) half the time.
        i = pos % (min(len(buf), 4096) if pos % 2 else len(buf))
        if op == "flip":
            buf[i] ^= 1 << arg
        elif op == "set":
            buf[i] = arg
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = arg
        elif op == "delete":
            del buf[i : i + arg]
        elif op == "int32":
            buf[i : i + 4] = struct.pack("<I", arg)
    return bytes(buf)


@FUZZ
@given(name=st.sampled_from(sorted(SMALL_BYTES)), ops=st.lists(_mutation, min_size=1, max_size=6))
def test_mutated_files_load_or_fail_typed(name, ops):
    _loads_or_typed_error(_mutate(SMALL_BYTES[name], ops))


_MAGIC = [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"II+\x00",
          b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"BM", b"GIF89a", b"GIF87a", b"\x00\x00\x00\x18ftypheic",
          b"\x00\x00\x00\x1cftypavif", b"\x00" * 128 + b"DICM", b"\x02\x00\x10\x00UI", b"\x08\x00\x05\x00CS"]


@FUZZ
@given(magic=st.sampled_from(_MAGIC), body=st.binary(max_size=2048))
def test_random_bytes_behind_each_magic_number(magic, body):
    _loads_or_typed_error(magic + body)


# -- DICOM, built element by element ----------------------------------------------------

def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR little-endian element, written by hand so any value fits."""
    if len(value) % 2:
        value += b"\x00" if vr in (b"UI", b"OB", b"OW", b"UN") else b" "
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr
    if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN"):
        return head + b"\x00\x00" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value) & 0xFFFF) + value[:0xFFFF]


_TS = {"explicit": b"1.2.840.10008.1.2.1", "implicit": b"1.2.840.10008.1.2", "big": b"1.2.840.10008.1.2.2",
       "rle": b"1.2.840.10008.1.2.5", "jpeg": b"1.2.840.10008.1.2.4.50", "jpegll": b"1.2.840.10008.1.2.4.70",
       "j2k": b"1.2.840.10008.1.2.4.90", "deflate": b"1.2.840.10008.1.2.1.99", "bogus": b"1.2.3.4"}
_IS = st.one_of(st.integers(-2, 70000).map(lambda n: str(n).encode()),
                st.sampled_from([b"", b"1A", b"Zebulon Quackenbush", b"1e9", b"-0", b"  3 ", b"nan"]))
_US = st.one_of(st.integers(0, 0xFFFF).map(lambda n: struct.pack("<H", n)), st.binary(max_size=3))


@st.composite
def dicom_files(draw) -> bytes:
    rows = draw(st.one_of(st.integers(0, 64), st.sampled_from([0xFFFF, 30000])))
    cols = draw(st.one_of(st.integers(0, 64), st.sampled_from([0xFFFF, 30000])))
    bits = draw(st.sampled_from([0, 1, 7, 8, 12, 16, 24, 32, 64]))
    samples = draw(st.sampled_from([0, 1, 2, 3, 4]))
    frames = draw(_IS)
    photometric = draw(st.sampled_from([b"MONOCHROME1", b"MONOCHROME2", b"RGB", b"PALETTE COLOR", b"YBR_FULL",
                                        b"YBR_FULL_422", b"YBR_RCT", b"Zebulon Quackenbush", b""]))
    need = max(rows * cols * max(samples, 1) * max(bits // 8, 1), 0)
    pixel_len = draw(st.sampled_from([0, 1, need // 2, need, need + 1, need * 3]))
    pattern = draw(st.binary(min_size=1, max_size=8))
    pixel = (pattern * (min(pixel_len, 1 << 20) // len(pattern) + 1))[: min(pixel_len, 1 << 20)]
    # Mostly explicit VR little endian (the elements are written that way); the other
    # syntaxes make the parser read the same bytes under the wrong rules.
    ts = draw(st.one_of(st.just("explicit"), st.sampled_from(sorted(_TS))))
    meta_body = _element(0x00020010, b"UI", _TS[ts])
    meta = _element(0x00020000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    elems = [
        _element(0x00080016, b"UI", b"1.2.840.10008.5.1.4.1.1.7"),
        _element(0x00100010, b"PN", b"QUACKENBUSH^ZEBULON"),
        _element(0x00280002, b"US", draw(_US) if draw(st.booleans()) else struct.pack("<H", samples)),
        _element(0x00280004, b"CS", photometric),
        _element(0x00280008, b"IS", frames),
        _element(0x00280010, b"US", struct.pack("<H", rows)),
        _element(0x00280011, b"US", struct.pack("<H", cols)),
        _element(0x00280100, b"US", struct.pack("<H", bits)),
        _element(0x00280101, b"US", struct.pack("<H", draw(st.integers(0, 70)) & 0xFFFF)),
        _element(0x00280102, b"US", struct.pack("<H", draw(st.integers(0, 70)) & 0xFFFF)),
        _element(0x00280103, b"US", struct.pack("<H", draw(st.integers(0, 2)))),
    ]
    if draw(st.booleans()):  # a window that may be nonsense
        elems.append(_element(0x00281050, b"DS", draw(st.sampled_from([b"40", b"-1e308", b"nan", b"x", b"1\\2\\3"]))))
        elems.append(_element(0x00281051, b"DS", draw(st.sampled_from([b"400", b"0", b"-5", b"inf", b""]))))
    if draw(st.booleans()):  # an overlay plane, consistent or not
        o_rows, o_cols = draw(st.integers(0, 64)), draw(st.integers(0, 64))
        elems += [_element(0x60000010, b"US", struct.pack("<H", o_rows)), _element(0x60000011, b"US", struct.pack("<H", o_cols)),
                  _element(0x60000100, b"US", struct.pack("<H", draw(st.sampled_from([0, 1, 8, 16])))),
                  _element(0x60000102, b"US", struct.pack("<H", draw(st.integers(0, 16)))),
                  _element(0x60003000, b"OW", b"\xff" * draw(st.sampled_from([0, (o_rows * o_cols + 7) // 8, 3])))]
    if ts in ("rle", "jpeg", "jpegll", "j2k"):  # encapsulated: a basic offset table and fragments
        frag = draw(st.binary(max_size=256))
        item = lambda b: struct.pack("<HHI", 0xFFFE, 0xE000, len(b)) + b  # noqa: E731
        body = item(b"") + item(frag + b"\x00" * (len(frag) % 2)) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        pix = struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\x00\x00" + b"\xff\xff\xff\xff" + body
    else:
        pix = _element(0x7FE00010, b"OW" if bits > 8 else b"OB", pixel)
    return b"\x00" * 128 + b"DICM" + meta + b"".join(elems) + pix


@FUZZ
@given(data=dicom_files())
def test_structured_dicom_loads_or_fails_typed(data):
    _loads_or_typed_error(data)


# -- the policy TOML --------------------------------------------------------------------

def _leaves(table: dict, path: tuple = ()) -> list[tuple]:
    out = []
    for k, v in table.items():
        out += _leaves(v, path + (k,)) if isinstance(v, dict) else [path + (k,)]
    return out


_DEFAULT = Policy.default().table
_KEYS = _leaves(_DEFAULT)
_scalar = st.one_of(st.integers(-(1 << 70), 1 << 70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=20), st.sampled_from(["tesseract", "rapidocr", "block", "mask", "shift", "fill", "(", "[a-"]))
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4), st.dictionaries(st.text(max_size=8), _scalar, max_size=3))


def _policy_or_policy_error(make) -> None:  # noqa: ANN001
    try:
        policy = make()
    except PolicyError as exc:
        assert str(exc) and "\n" not in str(exc).strip(), repr(exc)
        return
    assert isinstance(policy, Policy)


@FUZZ
@given(key=st.sampled_from(_KEYS), value=_value, extra=st.one_of(st.none(), st.tuples(st.text(max_size=10), _value)))
@example(key=("mode",), value=0, extra=("\n", 0))  # found by this test: a key echoed with its newline
@example(key=("mode",), value="a\nb", extra=None)
@example(key=("detect", "allow_words"), value=[0], extra=None)  # found: AttributeError escaped untyped
def test_policy_values_are_validated_or_refused_typed(key, value, extra):
    table: dict = {}
    node = table
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = value
    if extra is not None:
        table[extra[0]] = extra[1]
    _policy_or_policy_error(lambda: Policy.from_table(table))


_toml_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["[ocr]", "[verify]", "[block]", "[dicom]", "[limits]", "engines = []", "max_rounds = 0",
                              "min_confidence = -1", "max_pixels = 1e400", "secret = '''", 'style = "blur"', "x = 1",
                              "kinds = [1, 2]", "[[ocr]]", "mode = 3", "tile_size = 0", "\x00", "= =", "é = 1"]),
             max_size=8).map("\n".join),
)


@FUZZ
@given(text=_toml_text)
@example(text="[verify]\nengines = []")
@example(text="[limits]\nmax_pixels = -1")
def test_policy_files_load_or_fail_typed(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("policy") / "p.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _policy_or_policy_error(lambda: Policy.load(path))


# -- multipart uploads to the web API ---------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_client(screener):
    """The real app and the real screening function, in this process, with blind OCR
    engines (the HTTP handling and the loaders are fuzzed, not OCR)."""
    from concurrent.futures import Future

    from fastapi.testclient import TestClient

    import phi_guard.pipeline as pipeline
    from phi_guard.pipeline import Screener
    from phi_guard.web import app as web_app
    from phi_guard.web.app import ServerConfig
    from phi_guard.web.pool import screen_bytes

    from engines import BlindEngine

    fast = Screener(ocr_engines=[BlindEngine("rapidocr")], verify_engines=[BlindEngine("tesseract"), BlindEngine("rapidocr")],
                    detector=screener.detector)

    class InlinePool:
        def __init__(self, workers: int) -> None:
            self.workers = workers

        def submit(self, *args) -> Future:  # noqa: ANN002
            f: Future = Future()
            f.set_result(screen_bytes(*args))
            return f

        def warm_up(self, policy_table) -> None:  # noqa: ANN001
            pass

        def shutdown(self) -> None:
            pass

    mp = pytest.MonkeyPatch()
    mp.setattr(web_app, "ScreeningPool", InlinePool)
    mp.setattr(pipeline, "shared_screener", lambda policy, threads=0: fast)
    try:
        with TestClient(web_app.create_app(ServerConfig(workers=1, max_upload_bytes=256 * 1024), warm_up=False)) as c:
            yield c
    finally:
        mp.undo()


_field_names = st.sampled_from(["file", "style", "output", "include_image", "file", "", "fi\x00le", "output"])
_filenames = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["../../etc/passwd", "a\"b.png", "x.dcm", "SMITH_JOHN.jpg", "\r\n.png"]))
_form_values = st.one_of(st.sampled_from([b"fill", b"blur", b"pixelate", b"same", b"png", b"jpg", b"dcm", b"true", b"false", b"maybe"]),
                         st.binary(max_size=40))


@st.composite
def multipart_bodies(draw) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from(["b0undary", "----x", "a" * 70, '"quoted"', ""]))
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(_field_names)
        filename = draw(_filenames)
        if name == "file" and draw(st.booleans()):
            content = _mutate(SMALL_BYTES[draw(st.sampled_from(sorted(SMALL_BYTES)))], draw(st.lists(_mutation, max_size=3)))
        else:
            content = draw(_form_values)
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        headers = f"Content-Disposition: {disp}\r\n"
        if draw(st.booleans()):
            headers += f"Content-Type: {draw(st.sampled_from(['image/png', 'application/dicom', 'text/plain', '']))}\r\n"
        parts.append(f"--{boundary}\r\n{headers}\r\n".encode("utf-8", "surrogatepass") + content + b"\r\n")
    tail = draw(st.sampled_from([f"--{boundary}--\r\n".encode(), b"", f"--{boundary}".encode(), b"garbage"]))
    content_type = draw(st.sampled_from([f"multipart/form-data; boundary={boundary}", "multipart/form-data",
                                         "application/octet-stream", f"multipart/form-data; boundary={boundary}"]))
    return b"".join(parts) + tail, content_type


_ALLOWED_STATUS = {200, 400, 413, 422}


_GOOD_UPLOAD = (b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="x.webp"\r\n\r\n'
                + SMALL_BYTES["tool1.webp"] + b"\r\n--b0undary--\r\n", "multipart/form-data; boundary=b0undary")


@settings(FUZZ, max_examples=max(20, FUZZ.max_examples // 2))
@given(body=multipart_bodies())
@example(body=_GOOD_UPLOAD)  # the success path is always among the examples
def test_multipart_uploads_answer_in_the_documented_shapes(fuzz_client, body):
    content, content_type = body
    r = fuzz_client.post("/v1/screen", content=content, headers={"content-type": content_type})
    assert r.status_code in _ALLOWED_STATUS, (r.status_code, r.text[:300])
    payload = r.json()
    assert "Traceback" not in r.text
    if body == _GOOD_UPLOAD:
        assert r.status_code == 200, r.text[:300]
    if r.status_code == 200:
        assert payload["verdict"] in ("CLEAN", "REDACTED", "BLOCKED")
        assert ("image" in payload) == (payload["verdict"] != "BLOCKED")
    else:
        assert set(payload) == {"error"} and payload["error"]["code"] and payload["error"]["message"], payload


def test_missing_file_field_has_the_documented_shape(fuzz_client):
    r = fuzz_client.post("/v1/screen", data={"style": "fill"})
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and r.json()["error"]["code"]


def test_unparseable_multipart_body_has_the_documented_shape(fuzz_client):
    r = fuzz_client.post("/v1/screen", content=b"--b0undary--\r\n", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400
    assert set(r.json()) == {"error"} and r.json()["error"]["code"]
