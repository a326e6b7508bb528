# Tile Embeddings: the single entry point.
# On the host every target re-enters itself inside a hermetic QGIS rootfs (scripts/qgis-env):
# QGIS 3.40 on Debian 13 by default, QGIS 3.44 on Debian unstable with QGIS=3.44
# (make test QGIS=3.44). Inside it (TE_IN_ROOTFS=1) the targets do the work.

ENV      := scripts/qgis-env
PYPATH   := /tmp/te-pypath
PYTEST   := python3 -m pytest
XVFB     := xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp"
export PYTHONPATH := $(PYPATH)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1
OUT      ?= demo-output
QGIS     ?= $(or $(TE_QGIS),3.40)
export TE_QGIS := $(QGIS)

.PHONY: env test test-unit lint package translations bench eval demo models pypath help

help:
	@echo "make demo       the main job on real NEON imagery -> OUT (default ./demo-output)"
	@echo "make env        build/refresh the QGIS 3.40 rootfs and offline assets (once, ~5-10 min)"
	@echo "make test       all tests (unit + QGIS + GUI) inside the rootfs"
	@echo "                QGIS=3.44 (any target): the same on QGIS 3.44 (Debian unstable rootfs)"
	@echo "make test-unit  core unit tests only, no QGIS"
	@echo "make lint       ruff, Qt6 names against PyQt6, the zip as plugins.qgis.org checks it"
	@echo "make package    plugin zip in dist/ for 'Install from ZIP'"
	@echo "make translations  regenerate resources/i18n/*.ts from the code (new strings: unfinished)"
	@echo "make bench      speed/memory benchmarks, ratios against baselines run in the same process"
	@echo "make eval       retrieval-quality evaluation on real NEON tiles"

ifeq ($(TE_IN_ROOTFS),1)

# the repository folder is the plugin package 'tile_embeddings' (as in the installed plugin)
pypath:
	@mkdir -p $(PYPATH) && ln -sfn $(CURDIR) $(PYPATH)/tile_embeddings

test: pypath
	$(XVFB) $(PYTEST) $(ARGS)

test-unit: pypath
	$(PYTEST) -p no:pytest_qgis tests/unit $(ARGS)

# ruff; Qt/QGIS names against real PyQt6 and QGIS (Qt6 readiness); the zip as plugins.qgis.org
# checks it on upload (validator rules, bandit, detect-secrets, flake8-qgis)
lint:
	ruff check .
	python3 scripts/check_qt6.py
	python3 scripts/package.py --check dist

package:
	python3 scripts/package.py dist

# pylupdate6 over the code, the help texts and the workflows; keeps the existing translations
translations:
	python3 scripts/update_translations.py

# every bench/bench_*.py prints its own measurements and ratios; outputs go to bench-output/
bench: pypath
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; python3 $$f $(ARGS); done

eval: pypath
	python3 bench/eval_retrieval.py $(ARGS)
	python3 bench/eval_classifier.py
	python3 bench/eval_labelled.py

demo: pypath
	python3 scripts/demo.py --out "$(OUT)" $(ARGS)

# regenerate resources/models/*.model3 after changing an algorithm's parameters
models: pypath
	python3 scripts/build_models.py

env:
	@echo "inside the rootfs already"

else

env:
	$(ENV) build

test test-unit lint package translations bench eval models:
	$(ENV) run make $@ ARGS="$(ARGS)"

demo:
	@mkdir -p "$(OUT)"
	TE_EXTRA_MOUNT="$(abspath $(OUT))" $(ENV) run make demo OUT="$(abspath $(OUT))" ARGS="$(ARGS)"

endif
