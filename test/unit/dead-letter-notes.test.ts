import { describe, expect, it } from 'vitest';
import { uniqueNotes } from '../../src/dead-letters/dead-letter-alerts.js';

describe('uniqueNotes', () => {
  it('keeps the first note of each event id, in stream order, so a job dead-lettered twice counts once', () => {
    const notes = uniqueNotes([
      { id: 'evt_a', error: 'HTTP 400', at: '1' },
      { id: 'evt_b', error: 'HTTP 400', at: '2' },
      { id: 'evt_a', error: 'HTTP 400 (again)', at: '3' },
      { id: 'evt_c', error: 'timeout', at: '4' },
    ]);
    expect(notes).toEqual([
      { id: 'evt_a', error: 'HTTP 400', at: 1 },
      { id: 'evt_b', error: 'HTTP 400', at: 2 },
      { id: 'evt_c', error: 'timeout', at: 4 },
    ]);
  });

  it('reads a note without fields as an unknown id, without a time', () => {
    expect(uniqueNotes([{}])).toEqual([{ id: '?', error: '', at: 0 }]);
  });
});
