# creditflow — run `make help` for the targets.
SHELL := /bin/bash
BIN   := build/bin/creditflow
GO    ?= go
FUZZTIME ?= 150000x
DEMO_DIR ?= build/demo

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build the creditflow binary into build/bin
	$(GO) build -o $(BIN) ./cmd/creditflow

.PHONY: demo
demo: build ## generate traffic and run it through the pipeline on local defaults, then show what landed
	@./deploy/demo.sh

.PHONY: test
test: ## vet, unit + integration tests, golden scenarios, ClickHouse 26 (chDB) migrations, arm64 assembly, a short fuzz run
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/cmd/creditflow$$')
	@# The end-to-end tests restart the shared Kafka and ClickHouse: run them alone.
	$(GO) test -count=1 -timeout 20m ./cmd/creditflow
	@$(MAKE) --no-print-directory test-chdb
	@$(MAKE) --no-print-directory test-arm64
	$(GO) test -count=1 -run='^$$' -fuzz=FuzzDecodeUsage -fuzztime=$(FUZZTIME) ./schemas

.PHONY: test-chdb
test-chdb: ## migrations, views and reader queries on ClickHouse 26.x through chDB (needs CHDB_LIB_PATH)
	@if [ -z "$$CHDB_LIB_PATH" ] && [ -f build/services/chdb.env ]; then . build/services/chdb.env; fi; \
	if [ -z "$$CHDB_LIB_PATH" ]; then \
	  if [ "$$CI" = true ]; then echo "test-chdb: CHDB_LIB_PATH not set (run deploy/chdb.sh)"; exit 1; fi; \
	  echo "test-chdb: CHDB_LIB_PATH not set; run deploy/chdb.sh to prove the migrations on ClickHouse 26.x"; exit 0; \
	fi; \
	CHDB_LIB_PATH=$$CHDB_LIB_PATH $(GO) test -count=1 -tags chdb -run Chdb ./sinks/clickhouse/

.PHONY: test-arm64
test-arm64: ## the packages with arm64 assembly (dedup's AES key hash, prefetch) on arm64, under qemu-aarch64
	@if ! command -v qemu-aarch64 >/dev/null; then \
	  if [ "$$CI" = true ]; then echo "test-arm64: qemu-aarch64 not found (apt-get install qemu-user)"; exit 1; fi; \
	  echo "test-arm64: qemu-aarch64 not found; apt-get install qemu-user to test the arm64 assembly"; exit 0; \
	fi; \
	GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 ./pipeline/dedup ./schemas

.PHONY: test-short
test-short: ## unit tests only (no services needed)
	$(GO) test -count=1 -short ./...

.PHONY: golden
golden: ## regenerate golden files after an intended change (review the diff!)
	$(GO) test -count=1 ./... -update

.PHONY: bench
bench: ## hot-path benchmarks (core, decoder, dedup, windows, close, alerts)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=2s ./schemas ./pipeline/...

.PHONY: loadtest
loadtest: build ## replay 10M generated events and report wall time, events/s and peak RSS
	@./deploy/loadtest.sh

.PHONY: streambench
streambench: build ## streaming throughput (10M events, raw events stored) and latency vs a raw-insert baseline; needs the services
	@./deploy/streambench.sh

.PHONY: services
services: ## install and start Kafka and ClickHouse under build/services
	@./.ci/services.sh

.PHONY: services-stop
services-stop: ## stop the local Kafka and ClickHouse
	-@./deploy/kafka.sh stop
	-@./deploy/clickhouse.sh stop

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## remove build outputs (and service data)
	rm -rf build
