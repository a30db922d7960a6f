/**
 * Starts two fixtures at once (a test API server and a Redis take seconds each) and returns both, or,
 * when either fails to start, stops the one that did before rethrowing: `afterAll` never sees a
 * fixture that was started but not assigned, which would otherwise keep running after the suite.
 */
export async function startTogether<A, B>(a: Promise<A>, b: Promise<B>, stop: { a: (a: A) => Promise<unknown>; b: (b: B) => Promise<unknown> }): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  if (ra.status === 'fulfilled') await stop.a(ra.value).catch(() => undefined);
  if (rb.status === 'fulfilled') await stop.b(rb.value).catch(() => undefined);
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}
