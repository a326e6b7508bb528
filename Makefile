# Tile Embeddings: the single entry point.
# On the host every target re-enters itself inside the hermetic QGIS 3.40 rootfs
# (scripts/qgis-env); inside it (TE_IN_ROOTFS=1) the targets do the work.

ENV      := scripts/qgis-env
PYPATH   := /tmp/te-pypath
PYTEST   := python3 -m pytest
XVFB     := xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp"
export PYTHONPATH := $(PYPATH)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: env test test-unit lint package pypath help

help:
	@echo "make env        build/refresh the QGIS 3.40 rootfs and offline assets (once, ~5-10 min)"
	@echo "make test       all tests (unit + QGIS + GUI) inside the rootfs"
	@echo "make test-unit  core unit tests only, no QGIS"
	@echo "make lint       ruff + Qt6 breaker check"
	@echo "make package    plugin zip in dist/ for 'Install from ZIP'"

ifeq ($(TE_IN_ROOTFS),1)

# the repository folder is the plugin package 'tile_embeddings' (as in the installed plugin)
pypath:
	@mkdir -p $(PYPATH) && ln -sfn $(CURDIR) $(PYPATH)/tile_embeddings

test: pypath
	$(XVFB) $(PYTEST) tests $(ARGS)

test-unit: pypath
	$(PYTEST) -p no:pytest_qgis tests/unit $(ARGS)

lint:
	ruff check .
	python3 scripts/check_qt6.py

package:
	python3 scripts/package.py dist

env:
	@echo "inside the rootfs already"

else

env:
	$(ENV) build

test test-unit lint package:
	$(ENV) run make $@ ARGS="$(ARGS)"

endif
