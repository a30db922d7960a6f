# Helm chart, container image, generated manifests and the kind end-to-end test.
# Included from the top-level Makefile:  include mk/chart.mk
#
#   make chart-lint   helm lint (strict) and helm template, default values and every feature on
#   make chart-test   the chart and image tests (vitest: test/chart, test/image; real kube-apiserver)
#   make manifests    regenerate manifests/install.yaml and sync the chart's copies (CRD, rules, dashboards)
#   make image        docker build the one Herald image (HERALD_IMAGE=herald:dev)
#   make e2e          kind cluster + add-ons + image + chart + Destinations, run the scenario; cleans up
#   make e2e-images   build (or find cached) every image make e2e needs, offline
#   make e2e-down     delete the e2e kind cluster (after E2E_KEEP=1 make e2e, or an interrupted run)

CHART_DIR        := charts/herald
CHART_TOOLS_DIR  ?= $(or $(HERALD_TOOLS_DIR),.tools)
CHART_HELM       ?= $(CHART_TOOLS_DIR)/bin/helm
HERALD_IMAGE     ?= herald:dev

.PHONY: chart-lint chart-test manifests image e2e e2e-images e2e-down

# helm comes from the Go module proxy, built with the machine's Go into the git-ignored .tools/
# (test/tools/build.sh caches it; a second run is instant).
$(CHART_HELM):
	bash test/tools/build.sh

chart-lint: $(CHART_HELM) ## helm lint (strict) and helm template, default values and every feature on
	$(CHART_HELM) lint --strict $(CHART_DIR)
	$(CHART_HELM) lint --strict $(CHART_DIR) --values test/chart/values-all.yaml
	$(CHART_HELM) template herald $(CHART_DIR) --namespace herald >/dev/null
	$(CHART_HELM) template herald $(CHART_DIR) --namespace herald --values test/chart/values-all.yaml >/dev/null

chart-test: $(CHART_HELM) ## the chart and image tests (test/chart, test/image; real kube-apiserver)
	npx vitest run test/chart test/image

manifests: $(CHART_HELM) ## regenerate manifests/install.yaml and sync the chart's copies (CRD, rules, dashboards, values table)
	HELM=$(CHART_HELM) bash test/chart/sync-manifests.sh

image: ## docker build the Herald image (HERALD_IMAGE=herald:dev); tag and push it for the chart
	docker build -t $(HERALD_IMAGE) .
	@docker image ls $(HERALD_IMAGE) --format 'built {{.Repository}}:{{.Tag}}: {{.Size}} (expected about 285MB, see Dockerfile)'

e2e: $(CHART_HELM) ## kind cluster with Traefik, KEDA, Prometheus, Alertmanager; install Herald and run the scenario (offline)
	bash test/e2e/run.sh

e2e-images: $(CHART_HELM) ## build (or find cached) every image make e2e needs, from package registries only
	bash test/e2e/run.sh images

e2e-down: ## delete the e2e kind cluster (after E2E_KEEP=1 make e2e or an interrupted run)
	bash test/e2e/run.sh down
