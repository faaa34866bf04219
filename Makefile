# The two commands of the README: `make demo` and `make test`. Everything installs from here.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
SHARED ?= ../shared
DEMO_OUT ?= demo_out
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast golden lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	# CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) ships in this wheel; its deps
	# (torchvision, timm) are not wanted: the package is never imported, only the file is read
	$(BIN)/pip install -q --no-deps open_clip_torch==3.3.0
	touch $@

demo: setup
	$(BIN)/python tools/demo.py --out $(DEMO_OUT)

test: setup
	$(BIN)/python -m pytest -q tests
	@if [ -d "$(SHARED)/golden" ]; then \
		$(BIN)/python $(SHARED)/tools/check_golden.py $(SHARED)/golden --cli $(BIN)/univs-bench; \
	else echo "no $(SHARED)/golden: golden cases skipped"; fi

golden: setup
	$(BIN)/python $(SHARED)/tools/check_golden.py $(SHARED)/golden --cli $(BIN)/univs-bench

lint: setup
	$(BIN)/ruff check univs_bench tests tools benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) *.egg-info
