# Front door of the project. Needs only python3 (3.11), pip and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOB    ?= demo

.PHONY: help setup demo test browser lint lab ui bench bench-quick bench-compare bench-readme bench10m lock clean

help:
	@echo "make demo   set up the virtualenv and run the demo job end to end"
	@echo "make test   set up the virtualenv and run the tests"
	@echo "make lab    open JupyterLab on notebooks/ with the project's kernel"
	@echo "make ui     open the MLflow UI on the project's tracking store"
	@echo "make bench  run the benchmarks at 100k and 1M (PEERS=<venv>/bin/python for lifetimes, pymc-marketing)"
	@echo "make bench-quick  BG/NBD vs lifetimes at 1M, scoring at 200k, the job at 100k (a few minutes), then bench-compare"
	@echo "make bench-compare  the newest recorded benchmark run beside the one before (benchmarks/history.jsonl)"
	@echo "make bench-readme  rewrite the tables of benchmarks/README.md from benchmarks/history.jsonl (bench and bench-quick do)"
	@echo "make bench10m  the ten-million-customer scoring path (about 25 min)"
	@echo "make lint   ruff"
	@echo "make lock   re-record requirements.lock from the virtualenv"

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements.lock -e ".[dev,spark]"
	$(PY) -m ipykernel install --sys-prefix --name tourism-crm --display-name "Tourism CRM (.venv)" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crm run $(JOB)

test: $(STAMP) browser
	$(PY) -m pytest -n 2 --dist loadscope -q

# headless Chromium from the Debian packages, for the test that reads index.html as a person
# sees it (tests/runner/test_front_page.py fails, naming this, when it is missing)
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1; }; }; } || \
	  echo "warning: chromium is not installed (apt-get install chromium); the front-page test will fail"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

ui: $(STAMP)
	$(VENV)/bin/crm ui

# the README follows the history even when a script failed (run.py appends what was measured)
bench: $(STAMP)
	$(PY) benchmarks/run.py --skip score10m $(if $(PEERS),--peer-python $(PEERS)) --history benchmarks/history.jsonl; \
	  status=$$?; $(PY) benchmarks/history.py readme && exit $$status

bench-quick: $(STAMP)
	rm -f outputs/bench-quick.jsonl outputs/bench-quick.run.json; mkdir -p outputs
	$(PY) benchmarks/run.py --only btyd --sizes 1000000 $(if $(PEERS),--peer-python $(PEERS)) --records outputs/bench-quick.jsonl --append
	$(PY) benchmarks/run.py --only scoring --sizes 200000 --records outputs/bench-quick.jsonl --append
	$(PY) benchmarks/run.py --only job --sizes 100000 --records outputs/bench-quick.jsonl --append
	$(PY) benchmarks/history.py append outputs/bench-quick.jsonl --label quick
	$(PY) benchmarks/history.py readme
	$(PY) benchmarks/history.py compare

bench-readme: $(STAMP)
	$(PY) benchmarks/history.py readme

bench-compare: $(STAMP)
	$(PY) benchmarks/history.py compare

bench10m: $(STAMP)
	$(PY) benchmarks/bench_score10m.py --sizes 10000000 --spark

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
