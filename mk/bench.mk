# Benchmark (issue 7, docs/performance.md). Results go to bench/results/<stamp>-<mode>.{json,md,png}.
#   make bench-quick     3 rounds of short runs: about 100 s of load, 3–4 minutes in all on a busy 2-core machine
#   make bench           the full run: 3 rounds of 10 s, fan-out to 20, a 1,000,000-event backlog (BENCH_BACKLOG)
#   make bench-profile   --cpu-prof of ingest and worker under load, summarised in bench/results/profiles/
# BENCH_HERALD=DIR benchmarks another built tree (e.g. a `git worktree` of the previous commit) instead of this one.

BENCH_BUILD := $(if $(BENCH_HERALD),,build)

.PHONY: bench-deps
bench-deps: ## install wrk, redis-benchmark and rsvg-convert when missing (apt)
	@bash bench/system-deps.sh

.PHONY: bench-build
bench-build: $(NPM_STAMP) $(BENCH_BUILD)
	npx tsc -p bench/tsconfig.json

.PHONY: bench
bench: bench-deps bench-build ## full benchmark vs its ceilings: about 40 minutes on a quiet machine, over an hour on a busy one
	node bench/dist/run.js --mode full

.PHONY: bench-quick
bench-quick: bench-deps bench-build ## short benchmark: about 100 s of load, 3–4 minutes in all
	node bench/dist/run.js --mode quick

.PHONY: bench-profile
bench-profile: bench-deps bench-build ## CPU profiles of ingest and worker under load, with flame graphs
	node bench/dist/run.js --mode profile

.PHONY: bench-durability
bench-durability: bench-deps bench-build ## ingest cost of appendfsync everysec vs always vs a replica and WAIT 1 (HERALD_ACK_REPLICAS), interleaved (bench/durability.sh)
	bash bench/durability.sh

.PHONY: bench-cluster
bench-cluster: bench-deps bench-build ## Herald on 1- and 3-primary Redis Clusters (BENCH_CLUSTER_PRIMARIES) beside one Redis, alternating rounds: ingest, delivery, Redis CPU per shard (bench/lib/cluster.ts; also in `make bench`)
	BENCH_ONLY=cluster BENCH_DURATION=$${BENCH_DURATION:-3} node bench/dist/run.js --mode quick
