import type { Config } from '../config/config.js';
import { parseCidrList, type AddressPolicy } from './address.js';

/** The SSRF policy deliveries run under, from configuration (`herald dev` allows private addresses). */
export function deliveryAddressPolicy(config: Config): AddressPolicy {
  const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);
  return {
    allowPrivate: config.HERALD_ALLOW_PRIVATE_DESTINATIONS,
    allow: parseCidrList(list(config.HERALD_DELIVERY_ALLOW_CIDRS)),
    deny: parseCidrList(list(config.HERALD_DELIVERY_DENY_CIDRS)),
  };
}
