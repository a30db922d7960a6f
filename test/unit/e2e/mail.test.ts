import { describe, expect, it } from 'vitest';
import { normalizeMails } from '../../e2e/lib/mail.mjs';

describe('normalizeMails (e2e SMTP sink listing)', () => {
  it("reads Mailpit's listing", () => {
    const listing = { messages: [{ Subject: '[Herald] x: 2 events dead-lettered', To: [{ Address: 'oncall@e2e.test' }], From: { Address: 'herald@e2e.test' }, Snippet: 'hi' }] };
    expect(normalizeMails(listing)).toEqual([{ subject: '[Herald] x: 2 events dead-lettered', to: ['oncall@e2e.test'], from: 'herald@e2e.test', text: 'hi' }]);
  });

  it('reads a plain array with recipients as strings or objects', () => {
    expect(normalizeMails([{ subject: 's', to: ['a@x', { address: 'b@x' }], from: 'f@x', text: 't' }])).toEqual([{ subject: 's', to: ['a@x', 'b@x'], from: 'f@x', text: 't' }]);
    expect(normalizeMails([{ subject: 's', to: 'a@x, b@x' }])[0]!.to).toEqual(['a@x', 'b@x']);
  });
});
