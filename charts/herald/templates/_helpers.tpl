{{/*
Names, labels and shared fragments. Every template builds names and labels from here, so
selectors, Service targets and the controller's settings can never drift apart.
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every object: release name, plus the chart name unless the release name already
contains it. Truncated so "<fullname>-controller" and friends stay within 63 characters.
*/}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* name-version for helm.sh/chart. */}}
{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable over upgrades, so no chart or app version here. */}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herald
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels of one component's objects. Call with (dict "ctx" $ "component" "ingest").
*/}}
{{- define "herald.componentLabels" -}}
{{ include "herald.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selector labels of one component. Call with (dict "ctx" $ "component" "ingest"). */}}
{{- define "herald.componentSelectorLabels" -}}
{{ include "herald.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Object names. */}}
{{- define "herald.ingest.fullname" -}}{{ include "herald.fullname" . }}-ingest{{- end }}
{{- define "herald.controller.fullname" -}}{{ include "herald.fullname" . }}-controller{{- end }}
{{- define "herald.redis.fullname" -}}{{ include "herald.fullname" . }}-redis{{- end }}
{{/* ConfigMap and ServiceAccount shared by ingest and the workers. */}}
{{- define "herald.worker.fullname" -}}{{ include "herald.fullname" . }}-worker{{- end }}

{{/* The Secret with REDIS_URL and SMTP_URL: the user's, or the chart's <fullname>-worker. */}}
{{- define "herald.secretName" -}}
{{- default (include "herald.worker.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The Secret holding the ingest API key file. */}}
{{- define "herald.apiKeysSecretName" -}}
{{- default (printf "%s-api-keys" (include "herald.fullname" .)) .Values.ingest.auth.existingSecret }}
{{- end }}

{{/* The Herald image reference; a digest wins over a tag. */}}
{{- define "herald.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
REDIS_URL: the in-chart Redis, or redis.url. Fails the render when neither is configured, so a
release never starts pods that cannot reach Redis.
*/}}
{{- define "herald.redisUrl" -}}
{{- if .Values.redis.sentinel.sentinels }}
{{- fail "redis.sentinel is for an external Redis: no redisUrl in Sentinel mode" }}
{{- else if .Values.redis.cluster.nodes }}
{{- fail "redis.cluster is for an external Redis Cluster: no redisUrl in cluster mode" }}
{{- else if .Values.redis.enabled }}
{{- printf "redis://%s.%s.svc:6379" (include "herald.redis.fullname" .) .Release.Namespace }}
{{- else }}
{{- required "redis.url is required when redis.enabled is false (or set existingSecret to a Secret with REDIS_URL)" .Values.redis.url }}
{{- end }}
{{- end }}

{{/*
checksum/config of pods that read the shared ConfigMap and Secret: changing either rolls them.
*/}}
{{- define "herald.configChecksum" -}}
{{- $cm := include (print $.Template.BasePath "/config/configmap.yaml") . }}
{{- $secret := include (print $.Template.BasePath "/config/secret.yaml") . }}
{{- printf "%s\n%s" $cm $secret | sha256sum }}
{{- end }}

{{/* Pod-level securityContext of Herald pods (podSecurityContext; Pod Security "restricted" by default). */}}
{{- define "herald.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{/* Container-level securityContext of every container in the chart (containerSecurityContext). */}}
{{- define "herald.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/*
Labels of a component's pods: the chart's own, plus podLabels, which never replace them.
Call with (dict "ctx" $ "component" "ingest").
*/}}
{{- define "herald.podLabels" -}}
{{- $own := include "herald.componentLabels" . | fromYaml }}
{{- toYaml (merge $own (deepCopy .ctx.Values.podLabels)) }}
{{- end }}

{{/* Annotations of a component's pods besides checksums: its own podAnnotations over the global ones. Call with (dict "ctx" $ "own" .Values.ingest.podAnnotations). */}}
{{- define "herald.podAnnotations" -}}
{{- $all := merge (deepCopy (.own | default dict)) (deepCopy .ctx.Values.podAnnotations) }}
{{- with $all }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
HERALD_WORKER_POD_DEFAULTS: what the controller gives every worker pod (src/api/pod-scheduling.ts),
as JSON. Only set fields are written.
*/}}
{{- define "herald.workerPodDefaults" -}}
{{- $d := dict "podSecurityContext" .Values.podSecurityContext "containerSecurityContext" .Values.containerSecurityContext }}
{{- with .Values.podLabels }}{{ $_ := set $d "podLabels" . }}{{ end }}
{{- with .Values.podAnnotations }}{{ $_ := set $d "podAnnotations" . }}{{ end }}
{{- with .Values.priorityClassName }}{{ $_ := set $d "priorityClassName" . }}{{ end }}
{{- with .Values.worker.nodeSelector }}{{ $_ := set $d "nodeSelector" . }}{{ end }}
{{- with .Values.worker.tolerations }}{{ $_ := set $d "tolerations" . }}{{ end }}
{{- with .Values.worker.affinity }}{{ $_ := set $d "affinity" . }}{{ end }}
{{- with .Values.worker.topologySpreadConstraints }}{{ $_ := set $d "topologySpreadConstraints" . }}{{ end }}
{{- toJson $d }}
{{- end }}

{{/* envFrom of every Herald process: shared ConfigMap, then the connection Secret. */}}
{{- define "herald.envFrom" -}}
- configMapRef:
    name: {{ include "herald.worker.fullname" . }}
- secretRef:
    name: {{ include "herald.secretName" . }}
{{- end }}

{{/*
HERALD_AUTOSCALER_QUERY_LABELS: `namespace=<release namespace>` (the label the Prometheus Operator
puts on every scraped series) plus autoscaling.workers.queryLabels, which win; empty values are
left out. Sorted `name=value` pairs joined by commas.
*/}}
{{- define "herald.autoscalerQueryLabels" -}}
{{- $labels := dict "namespace" .Release.Namespace }}
{{- range $k, $v := .Values.autoscaling.workers.queryLabels }}
{{- $_ := set $labels $k $v }}
{{- end }}
{{- $pairs := list }}
{{- range $k := keys $labels | sortAlpha }}
{{- $v := get $labels $k }}
{{- if $v }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
Sentinel mode (redis.sentinel.sentinels set): checks the values that go with it, so a release never
starts pods with a half-configured Sentinel. Renders nothing.
*/}}
{{- define "herald.checkSentinel" -}}
{{- with .Values.redis.sentinel }}
{{- if .sentinels }}
{{- if $.Values.redis.enabled }}{{ fail "redis.sentinel.sentinels names an external Redis: set redis.enabled to false" }}{{ end }}
{{- if $.Values.redis.url }}{{ fail "set either redis.url or redis.sentinel.sentinels, not both" }}{{ end }}
{{- if not .masterName }}{{ fail "redis.sentinel.masterName is required with redis.sentinel.sentinels (the name in `sentinel monitor <name> ...`)" }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Cluster mode (redis.cluster.nodes set): checks the values that go with it, as checkSentinel does.
Renders nothing.
*/}}
{{- define "herald.checkCluster" -}}
{{- if .Values.redis.cluster.nodes }}
{{- if .Values.redis.enabled }}{{ fail "redis.cluster.nodes names an external Redis Cluster: set redis.enabled to false" }}{{ end }}
{{- if .Values.redis.url }}{{ fail "set either redis.url or redis.cluster.nodes, not both" }}{{ end }}
{{- if .Values.redis.sentinel.sentinels }}{{ fail "set either redis.sentinel.sentinels (one primary promoted by Sentinel) or redis.cluster.nodes (a Redis Cluster), not both" }}{{ end }}
{{- end }}
{{- end }}
