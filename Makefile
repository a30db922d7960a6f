# Herald — the commands a newcomer needs:
#   make dev     run Herald locally (ingest + workers + a demo receiver, private Redis)
#   make test    install what the tests need (cached) and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

export HERALD_TOOLS_DIR ?= $(CURDIR)/.tools

# Every target runs on the Node Herald targets (test/tools/node-version's major): when the machine's
# `node` is older, test/tools/node.sh installs the pinned one into $(HERALD_TOOLS_DIR) once and names
# its bin dir, which goes first on PATH (npm, npx and the tests' child processes use it too).
HERALD_NODE_BIN := $(shell HERALD_TOOLS_DIR='$(HERALD_TOOLS_DIR)' bash test/tools/node.sh)
ifneq ($(.SHELLSTATUS),0)
$(error test/tools/node.sh could not provide Node $(shell cat test/tools/node-version); see its output above)
endif
ifneq ($(HERALD_NODE_BIN),)
export PATH := $(HERALD_NODE_BIN):$(PATH)
endif
NPM_STAMP := node_modules/.package-lock.json

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-14s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

.PHONY: deps
deps: $(NPM_STAMP) ## install npm dependencies

.PHONY: build
build: $(NPM_STAMP) ## compile TypeScript into dist/ (then `npx herald …` runs this checkout's CLI)
	npm run build
	@# npm links other packages' commands into node_modules/.bin, never the project's own `bin`.
	@ln -sf ../../dist/cmd/herald.js node_modules/.bin/herald

.PHONY: dev
dev: build ## run Herald locally with manifests/dev/destinations.yaml and a demo receiver on :9999
	@command -v redis-server >/dev/null || [ -n "$$REDIS_URL" ] || bash test/tools/system-deps.sh
	node dist/cmd/herald.js dev --destinations manifests/dev/destinations.yaml --receiver 9999

.PHONY: tools
tools: ## build kube-apiserver, etcd, kube-controller-manager and helm from the Go module proxy (cached)
	bash test/tools/build.sh

.PHONY: system-deps
system-deps: ## install redis-server and promtool when missing (apt)
	bash test/tools/system-deps.sh

.PHONY: typecheck
typecheck: $(NPM_STAMP) ## type-check everything, tests included
	npx tsc -p tsconfig.json --noEmit

.PHONY: test
test: system-deps tools build typecheck ## run every test (unit, integration, cluster, chart), then the Redis Cluster matrix
	npx vitest run
	$(MAKE) --no-print-directory test-redis-cluster-matrix

# Integration files whose tests run unchanged on a Redis Cluster (3 primaries, 3 replicas) when
# HERALD_TEST_REDIS=cluster (test/support/test-redis.ts); docs/adr/0015-redis-cluster.md says which
# other files do not, and why.
REDIS_CLUSTER_MATRIX := test/integration/pipeline.test.ts test/integration/delivery-stats.test.ts test/integration/faults-smtp.test.ts test/integration/live-spec-changes.test.ts test/integration/event-log.test.ts test/integration/ordering.test.ts test/cluster/controller.test.ts

.PHONY: test-redis-cluster-matrix
test-redis-cluster-matrix: ## run the integration files that support it on a Redis Cluster
	HERALD_TEST_REDIS=cluster npx vitest run $(REDIS_CLUSTER_MATRIX)

.PHONY: test-unit
test-unit: $(NPM_STAMP) ## run only the unit tests (no services needed)
	npx vitest run test/unit

.PHONY: test-chaos
test-chaos: system-deps build ## the long fault-injection tests
	npx vitest run --config vitest.chaos.config.ts

.PHONY: clean
clean: ## remove build output and the dev Redis data
	rm -rf dist .dev

-include mk/*.mk
