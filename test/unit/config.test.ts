import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('has defaults for everything and freezes the result', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379', HERALD_HTTP_PORT: 8080, HERALD_MAX_BODY: 1_048_576, HERALD_DIGEST_WINDOW: 60_000, HERALD_DIGEST_SUPPRESS: 3_600_000, HERALD_SHUTDOWN_TIMEOUT: 25_000 });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('lists every bad variable at once', () => {
    try {
      loadConfig({ HERALD_HTTP_PORT: 'eighty', HERALD_DIGEST_WINDOW: 'soon', HERALD_LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toMatch(/HERALD_HTTP_PORT/);
      expect(issues).toMatch(/HERALD_DIGEST_WINDOW/);
      expect(issues).toMatch(/HERALD_LOG_LEVEL/);
    }
  });
  it('treats empty variables as unset', () => {
    expect(loadConfig({ REDIS_URL: '' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });
});
