#!/usr/bin/env bash
# Checks the add-on images with Docker alone, before any cluster exists: each starts and does the
# part of its job that needs no Kubernetes. Containers run on a network of their own; published
# ports are bound to 127.0.0.1 only; images are never pulled. Everything it starts is removed at
# the end.
#
#   bash test/e2e/addons/smoke.sh      (after images.sh)
#
#   1. Redis runs as the chart runs it (uid 999, read-only root, the chart's arguments) and answers
#   2. Herald's own mail client (nodemailer in herald:e2e) sends to the SMTP sink; the sink's HTTP
#      API lists the mail with subject, sender and recipient
#   3. Prometheus, with config/prometheus.yml and an always-firing rule, sends the alert to
#      Alertmanager, which mails it to the SMTP sink
#   4. Traefik and KEDA binaries start (version / --help)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_id="herald-addons-smoke-$$"
net="$run_id"
tmp="$(mktemp -d)"
started=()
cleanup() {
  [[ ${#started[@]} -gt 0 ]] && docker rm -f "${started[@]}" >/dev/null 2>&1
  docker network rm "$net" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

start() { # start NAME [docker run args...]
  local name="$1"
  shift
  docker run -d --pull never --name "$run_id-$name" --network "$net" "$@" >/dev/null
  started+=("$run_id-$name")
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND once a second until it succeeds.
wait_for() {
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 1
  done
}

host_port() { docker port "$run_id-$1" "$2" | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | sed -n 1p; }

mail_subjects() { curl -fsS "http://127.0.0.1:$(host_port sink 8025)/api/v1/messages" | node -e '
  let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
    for (const m of JSON.parse(s).messages) console.log(`${m.Subject} | from ${m.From.Address} | to ${m.To.map((t) => t.Address).join(",")}`);
  });'; }

has_mail() { mail_subjects | grep -qF "$1"; }

docker network create "$net" >/dev/null

log "1. Redis as the chart runs it"
start redis --user 999:1000 --read-only --tmpfs /data:uid=999,gid=1000 redis:e2e \
  redis-server --port 6379 --dir /data --appendonly yes --appendfsync everysec --maxmemory 64mb \
  --maxmemory-policy noeviction --hash-max-listpack-value 512 --protected-mode no
wait_for "redis-cli ping" 30 docker exec "$run_id-redis" redis-cli -p 6379 ping
[[ "$(docker exec "$run_id-redis" redis-cli -p 6379 set smoke 1)" == OK ]] || die "Redis refused a write"
log "   $(docker exec "$run_id-redis" redis-server --version | cut -d' ' -f1-3), PONG, SET OK"

log "2. Herald's mail client -> SMTP sink"
start sink --network-alias e2e-smtp-sink -e SMTP_PORT=2525 -p 127.0.0.1::8025 --read-only herald-e2e/mail-sink:e2e
wait_for "the SMTP sink" 30 curl -fsS "http://127.0.0.1:$(host_port sink 8025)/readyz"
docker run --rm --pull never --network "$net" --entrypoint node -w /app "${HERALD_IMAGE:-herald:e2e}" --input-type=module -e '
  import nodemailer from "nodemailer";
  await nodemailer.createTransport({ host: "e2e-smtp-sink", port: 2525 })
    .sendMail({ from: "herald@e2e.test", to: "oncall@e2e.test", subject: "[Herald] smoke: 1 event dead-lettered", text: "smoke" });' ||
  die "nodemailer in the Herald image could not send to the sink"
wait_for "the mail in the sink's API" 30 has_mail '[Herald] smoke: 1 event dead-lettered | from herald@e2e.test | to oncall@e2e.test'
log "   listed: $(mail_subjects | grep -F '[Herald] smoke')"

log "3. Prometheus -> Alertmanager -> SMTP sink"
sed 's#^\([[:space:]]*smtp_smarthost:\).*#\1 e2e-smtp-sink:2525#' "$addons_dir/config/alertmanager.yml" >"$tmp/alertmanager.yml"
printf 'groups:\n  - name: smoke\n    rules:\n      - alert: AddonsSmokeAlwaysFiring\n        expr: vector(1)\n' >"$tmp/smoke-rules.yaml"
chmod 644 "$tmp"/*
start alertmanager --network-alias alertmanager.monitoring.svc -v "$tmp/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" \
  "$(go_image alertmanager)" --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address=
# Kubernetes discovery fails outside a cluster (logged, not fatal); rules and alerting do not need it.
start prometheus -v "$addons_dir/config/prometheus.yml:/etc/prometheus/prometheus.yml:ro" \
  -v "$tmp/smoke-rules.yaml:/etc/prometheus/rules/smoke.yaml:ro" "$(go_image prometheus)"
wait_for "AddonsSmokeAlwaysFiring mailed by Alertmanager" 120 has_mail 'AddonsSmokeAlwaysFiring | from alertmanager@e2e.test | to oncall@e2e.test'
log "   listed: $(mail_subjects | grep -F AddonsSmokeAlwaysFiring)"

log "4. Traefik and KEDA start"
traefik="$(docker run --rm --pull never "$(go_image traefik)" version | sed -n 's/^Version:[[:space:]]*//p')"
[[ -n $traefik ]] || die "traefik version printed no version"
log "   traefik $traefik"
docker run --rm --pull never --entrypoint /keda "$(go_image keda)" --help 2>&1 | grep -q -- '--leader-elect' || die "/keda --help does not list --leader-elect"
docker run --rm --pull never --entrypoint /keda-adapter "$(go_image keda)" --help >/dev/null 2>&1 || die "/keda-adapter --help failed"
log "   keda operator and adapter answer --help"

log "smoke: all passed"
