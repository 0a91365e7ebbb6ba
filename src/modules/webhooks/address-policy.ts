import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';

/**
 * Addresses a webhook may not reach (SSRF): this host, the private networks, link-local,
 * unspecified, multicast and reserved ranges, and IPv4 written as IPv6 (mapped, NAT64), which
 * would otherwise smuggle any of those through.
 */
const FORBIDDEN_V4 = new BlockList();
const FORBIDDEN_V6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  FORBIDDEN_V4.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  FORBIDDEN_V6.addSubnet(network, prefix, 'ipv6');
}

/** True when `address` (an IP literal) is one a webhook may not reach. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // Kept apart: a BlockList matches IPv4 against ::ffff:0:0/96 too.
  return family === 4 ? FORBIDDEN_V4.check(address, 'ipv4') : FORBIDDEN_V6.check(address, 'ipv6');
}

/** Why a URL cannot be a webhook's target, or undefined when it can. */
export function urlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'url must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return 'url must be an http or https URL';
  }
  if (url.username !== '' || url.password !== '') return 'url must not hold credentials';
  if (url.hostname === '') return 'url must name a host';
  return undefined;
}

/** The host of a URL as a resolver takes it (an IPv6 literal without its brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export class ForbiddenAddressError extends Error {
  readonly code = 'EWEBHOOKFORBIDDEN';
  constructor(host: string) {
    super(`${host} resolves to a loopback, private or link-local address`);
  }
}

/** Every address `host` resolves to (the host itself when it is an IP literal). */
export async function resolveHost(host: string): Promise<string[]> {
  if (isIP(host) !== 0) return [host];
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (error, addresses: LookupAddress[]) => {
      if (error) reject(error);
      else resolve(addresses.map((entry) => entry.address));
    });
  });
}

/**
 * The DNS look-up of the sender's connections: the very addresses connected to are checked, so
 * a name that resolved to a public address at creation and to a private one now is refused.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(
    hostname,
    { ...options },
    (error, address: string | LookupAddress[], family?: number) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const all = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      if (all.some(isForbiddenAddress)) {
        callback(new ForbiddenAddressError(hostname), '', 0);
        return;
      }
      (callback as (e: null, a: string | LookupAddress[], f?: number) => void)(
        null,
        address,
        family,
      );
    },
  );
};
