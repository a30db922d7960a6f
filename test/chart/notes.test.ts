import { describe, expect, it } from 'vitest';
import { find, render, renderNotes } from './helm.js';

const FIRST_EVENT = `-d '{"userID": "sampleUser", "payload": "samplePayload"}'`;

describe('NOTES.txt', () => {
  it('port-forwards to the ingest Service’s port (not the container’s) and prints the exact curl command', () => {
    const values = { 'ingest.service.port': 8000, 'ingest.port': 9090, 'ingest.auth.enabled': false };
    const notes = renderNotes({ set: values });
    const svc = find(render({ set: values }), 'Service', 'herald-ingest');
    expect(svc.spec.ports[0].port).toBe(8000);
    expect(notes).toContain(
      [
        '  kubectl -n herald port-forward service/herald-ingest 8080:8000 &',
        '  curl -X POST http://127.0.0.1:8080/ingest \\',
        "    -H 'content-type: application/json' \\",
        `    ${FIRST_EVENT}`,
      ].join('\n'),
    );
  });

  it('sends the first event through the Ingress host over https when TLS is on, with the API key', () => {
    const notes = renderNotes({
      set: {
        'ingest.ingress.enabled': true,
        'ingest.ingress.host': 'herald.example.com',
        'ingest.ingress.tls.enabled': true,
        'ingest.ingress.tls.secretName': 'herald-tls',
        'ingest.auth.keys[0].name': 'me',
        'ingest.auth.keys[0].hash': `sha256:${'a'.repeat(64)}`,
      },
    });
    expect(notes).toContain(
      [
        '  curl -X POST https://herald.example.com/ingest \\',
        "    -H 'content-type: application/json' \\",
        '    -H "authorization: Bearer $HERALD_API_KEY" \\',
        `    ${FIRST_EVENT}`,
      ].join('\n'),
    );
    expect(notes).not.toContain('port-forward');
    expect(notes).not.toContain('No keys are configured yet');
  });

  it('asks for the Ingress address when no host is set', () => {
    const notes = renderNotes({ set: { 'ingest.ingress.enabled': true, 'ingest.auth.enabled': false } });
    expect(notes).toContain("INGRESS=$(kubectl -n herald get ingress herald-ingest -o jsonpath=");
    expect(notes).toContain('  curl -X POST http://$INGRESS/ingest \\');
  });

  it('explains how to create the first API key when auth is on and no key is configured', () => {
    const notes = renderNotes();
    expect(notes).toContain('No keys are configured yet');
    expect(notes).toContain("--set 'ingest.auth.keys[0].name=first-producer'");
    expect(notes).toContain('-H "authorization: Bearer $HERALD_API_KEY"');
  });

  it('names the release’s own objects and namespace', () => {
    const notes = renderNotes({ release: 'events', namespace: 'prod' });
    expect(notes).toContain('kubectl -n prod rollout status deployment/events-herald-ingest');
    expect(notes).toContain('kubectl -n prod rollout status deployment/events-herald-controller');
    expect(notes).toContain('kubectl -n prod port-forward service/events-herald-ingest 8080:80 &');
  });

  it('says how worker autoscaling works for the chosen provider, and that Prometheus must scrape the controller', () => {
    const keda = renderNotes();
    expect(keda).toContain('Destinations with spec.scaling get a KEDA ScaledObject that scales their workers on\nherald_queue_backlog from http://prometheus-operated.monitoring.svc:9090.');
    expect(keda).toContain('  kubectl get crd scaledobjects.keda.sh');
    expect(keda).toContain('set metrics.serviceMonitor.enabled=true');
    const hpa = renderNotes({ set: { 'autoscaling.workers.provider': 'hpa', 'metrics.serviceMonitor.enabled': true } });
    expect(hpa).toContain('  kubectl get --raw /apis/external.metrics.k8s.io/v1beta1/namespaces/herald/herald_queue_backlog');
    expect(hpa).not.toContain('metrics.serviceMonitor.enabled=true');
    expect(renderNotes({ set: { 'autoscaling.workers.provider': 'none' } })).not.toContain('spec.scaling');
  });
});
