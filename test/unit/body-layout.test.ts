import { describe, expect, it } from 'vitest';
import { BODY_MODE_ARG, bodyLayout, jobCarriesBody, type BodyLayout, type EarlierAttempt } from '../../src/ingest/body-layout.js';

const EARLIER: readonly EarlierAttempt[] = ['none', 'done', 'unfinished'];
const LAYOUTS: readonly BodyLayout[] = ['none', 'inline', 'shared', 'resumed'];

describe('bodyLayout', () => {
  it('decides every routing and earlier attempt as the table says', () => {
    const table = [0, 1, 2, 5, 1_000].map((destinations) => [destinations, ...EARLIER.map((earlier) => bodyLayout(destinations, earlier))]);
    expect(table).toEqual([
      //         no earlier attempt   completed  unfinished
      [0, /*  */ 'none', /*        */ 'none', 'none'],
      [1, /*  */ 'inline', /*      */ 'none', 'resumed'],
      [2, /*  */ 'shared', /*      */ 'none', 'resumed'],
      [5, /*  */ 'shared', /*      */ 'none', 'resumed'],
      [1_000, 'shared', /*         */ 'none', 'resumed'],
    ]);
  });

  it('writes nothing for an event that goes nowhere, even one an unfinished attempt left', () => {
    expect(bodyLayout(0, 'unfinished')).toBe('none');
  });

  it('completes an unfinished attempt at one destination with a stored body, not one in the job', () => {
    // Its earlier attempt may have queued jobs that read a stored body; only a stored body keeps them whole.
    expect(bodyLayout(1, 'unfinished')).toBe('resumed');
    expect(jobCarriesBody(bodyLayout(1, 'unfinished'))).toBe(false);
  });
});

describe('jobCarriesBody', () => {
  it('is true for the inline layout only', () => {
    expect(LAYOUTS.filter(jobCarriesBody)).toEqual(['inline']);
  });
});

describe('BODY_MODE_ARG', () => {
  it('names each stored layout with its own mode argument of the write script', () => {
    expect(BODY_MODE_ARG).toEqual({ shared: 's', resumed: 'r' });
  });
});
