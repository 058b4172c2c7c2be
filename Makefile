# Outflow — the two commands: `make demo` and `make test`.
.PHONY: all build test demo fuzz fuzz-kafka bench crash-test deps clean

all: build

deps:
	@scripts/bootstrap

build: deps
	swift build

# The whole suite against a throwaway PostgreSQL (started and stopped here).
test: deps
	scripts/test

# The long crash test: CYCLES (default 1000) kill/restart cycles per delivery guarantee under
# a write load, then the table: mode, cycles, events, lost, duplicated, aborted visible, order.
crash-test: deps
	scripts/crash-test $(if $(CYCLES),$(CYCLES))

# End to end on a throwaway PostgreSQL: outbox table, publication, slot, pipeline, events.
demo: deps
	scripts/demo

# A long libFuzzer campaign over the pgoutput decoder (RUNS=10000000 by default).
fuzz: deps
	scripts/fuzz $(if $(RUNS),-runs=$(RUNS))

# A libFuzzer campaign over the Kafka request path: frames and request decoding
# (RUNS=1000000 by default).
fuzz-kafka: deps
	scripts/fuzz-kafka $(if $(RUNS),-runs=$(RUNS))

# Throughput, latency, memory and micro-benchmarks against a throwaway PostgreSQL (several
# minutes; prints one table). See docs/performance.md.
bench: deps
	scripts/bench

clean:
	rm -rf .build .build-* .sandbox .venv-oracle demo-data
