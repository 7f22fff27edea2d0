# The two commands of the README:
#   make run    build and serve Cairn on the embedded default (./data, 127.0.0.1:8080)
#   make test   the whole suite: fmt, clippy, unit + integration tests
# One target directory outside the clone is shared by every build, test and CI run.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/cairn-target
CARGO ?= cargo

.PHONY: setup run test fmt lint unit schemas

setup:
	./scripts/setup.sh

run: setup
	$(CARGO) run --bin cairn -- serve $(ARGS)

fmt:
	$(CARGO) fmt --all --check

lint: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: setup
	$(CARGO) test --workspace

test: setup fmt lint unit

schemas: setup
	CAIRN_UPDATE_SCHEMAS=1 $(CARGO) test --test integration openapi

# Figures (see README): retrieval quality on SciFact, memory recall, ingest throughput,
# search and context-pack latency.
.PHONY: eval bench
eval: setup
	$(CARGO) run -p cairn-eval --bin beir -- --data ../shared/eval/scifact --split test \
		--index-dir $(HOME)/.cache/cairn/eval-scifact
	$(CARGO) run -p cairn-eval --bin memory-recall -- --data eval/data/memory_recall.json
	$(CARGO) run -p cairn-eval --bin locomo -- --data ../shared/eval/locomo-dev/locomo_dev.json

bench: setup
	$(CARGO) run -p cairn-bench --bin sources-bench -- ingest --docs 300
	$(CARGO) run -p cairn-bench --bin sources-bench -- search --chunks 100000 \
		--dir $(HOME)/.cache/cairn/bench-search
	$(CARGO) run -p cairn-bench --bin memory-bench -- --notes 10000 --chunks 100000 \
		--dir $(HOME)/.cache/cairn/bench-memory
	./scripts/litellm.sh
	$(CARGO) run -p cairn-bench --bin gateway-bench
