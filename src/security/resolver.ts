import { promises as dns } from 'node:dns';

/** One address a host name resolved to. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves a host name to every address it has. Injected so tests and callers can substitute a
 * resolver; production uses {@link systemResolver}.
 */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * Resolves through getaddrinfo (`dns.lookup`), the way any other client on the node would: it honours
 * /etc/hosts and the pod's search domains, so `svc.cluster.local` names behave as they do for curl.
 * `verbatim` keeps the resolver's order rather than sorting IPv4 first.
 */
export const systemResolver: Resolver = async (hostname) => {
  const found = await dns.lookup(hostname, { all: true, verbatim: true });
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};
