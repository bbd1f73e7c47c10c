# The README's two commands. Each creates or refreshes .venv itself.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[all,test]"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python examples/end_to_end.py

test: $(STAMP)
	$(VENV)/bin/pytest
