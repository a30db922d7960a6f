import { describe, expect, it } from 'vitest';
import { bodyGoneBecause } from '../../src/worker/delivery-worker.js';
import { describeLeftQueued } from '../../src/dev/left-queued.js';
import { formatLogLine } from '../../src/log/pretty.js';
import { intFlag, portFlag } from '../../src/cli/common.js';

describe('bodyGoneBecause', () => {
  it('a job started before by a worker that died was delivered then; a fresh one lost its body to a purge', () => {
    expect(bodyGoneBecause({ attemptsMade: 0, attemptsStarted: 1, stalledCounter: 1 })).toBe('already-delivered');
    expect(bodyGoneBecause({ attemptsMade: 0, attemptsStarted: 2, stalledCounter: 0 })).toBe('already-delivered');
    expect(bodyGoneBecause({ attemptsMade: 0, attemptsStarted: 1, stalledCounter: 0 })).toBe('purged');
    expect(bodyGoneBecause({ attemptsMade: 3, attemptsStarted: 4 })).toBe('purged');
  });
});

describe('describeLeftQueued', () => {
  it('says what each destination still has queued, or that nothing is', () => {
    expect(describeLeftQueued({ a: { waiting: 0, delayed: 0, active: 0 } })).toBe('Stopped; no deliveries left queued');
    expect(describeLeftQueued({ a: { waiting: 0, delayed: 0, active: 0 }, orders: { waiting: 2, delayed: 1, active: 0 } })).toBe(
      'Stopped; 3 deliveries left queued, kept in Redis for the next start: orders 3 (2 waiting, 1 awaiting a retry)',
    );
  });
});

describe('formatLogLine', () => {
  const line = JSON.stringify({ level: 'info', time: '2026-12-06T23:40:01.234Z', pid: 1, name: 'herald', process: 'dev', component: 'worker', destination: 'orders', eventId: 'evt_1', status: 200, msg: 'Delivered event' });
  it('turns a JSON log line into a readable one with the destination and fields', () => {
    expect(formatLogLine(line, false)).toBe('23:40:01.234 INFO  worker orders Delivered event  eventId=evt_1 status=200\n');
  });
  it('colours the level only when asked', () => {
    expect(formatLogLine(line, true)).toContain('\u001b[32mINFO \u001b[0m');
    expect(formatLogLine(line, false)).not.toContain('\u001b[');
  });
  it('passes a line that is not JSON through', () => {
    expect(formatLogLine('plain', false)).toBe('plain\n');
  });
});

describe('flag parsing', () => {
  it('names the flag in the error, not the variable behind it', () => {
    expect(() => portFlag('--port', 'abc')).toThrow('--port: "abc" is not a port number (0-65535)');
    expect(() => portFlag('--port', '70000')).toThrow('--port');
    expect(() => intFlag('--limit', '0', 1, 10_000)).toThrow('--limit: "0" is not a whole number from 1 to 10000');
    expect(() => intFlag('--limit', '-5', 1)).toThrow('--limit');
    expect(portFlag('--port', '8081')).toBe(8081);
    expect(intFlag('--limit', '25', 1)).toBe(25);
  });
});

describe('bindHttp', () => {
  it('answers 503 until its handler is attached, so an early request is refused rather than left hanging', async () => {
    const { attachHandler, bindHttp, boundPort, closeServer } = await import('../../src/server/listen.js');
    const server = await bindHttp(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${boundPort(server)}`;
      const early = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(((await early.json()) as { error: { code: string } }).error.code).toBe('starting_up');
      // A stand-in handler, on a path the API document does not describe (it answers plain text).
      attachHandler(server, (_req, res) => res.writeHead(200).end('ok'));
      expect((await fetch(`${base}/stand-in`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    } finally {
      await closeServer(server);
    }
  });

  it('names the flag that picks another port when the port is taken', async () => {
    const { bindHttp, boundPort, closeServer } = await import('../../src/server/listen.js');
    const first = await bindHttp(0, '127.0.0.1');
    try {
      await expect(bindHttp(boundPort(first), '127.0.0.1', 'pick another with --receiver PORT')).rejects.toThrow(`port ${boundPort(first)} on 127.0.0.1 is already in use: pick another with --receiver PORT`);
    } finally {
      await closeServer(first);
    }
  });
});
