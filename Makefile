# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv up down status demo test test-unit test-service test-workflow test-e2e chaos bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "需要 Python 3.11（$(PY) 未找到）"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=23" 
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

up: venv
	$(BIN)/shuangjian dev up

down:
	@if [ -x $(BIN)/shuangjian ]; then $(BIN)/shuangjian dev down; else echo "nothing to stop"; fi

status: venv
	$(BIN)/shuangjian dev status

demo: up
	$(BIN)/shuangjian demo

test: venv
	$(BIN)/python -m tests.run

# every fault in turn under load, then the reconciliation table (several minutes; restarts the local
# RabbitMQ when run as root); exit 1 when a message was lost or duplicated
chaos: venv
	$(BIN)/python -m tests.run chaos

bench: venv
	$(BIN)/python -m bench.run

clean: down
	rm -rf var
