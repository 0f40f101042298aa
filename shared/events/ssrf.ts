/**
 * Where webhooks may go. Two checks:
 * - `checkEndpointUrl` when an endpoint is created: https only in live mode (test mode also takes
 *   http to localhost/127.0.0.1, for `npm run listen` and local storefronts); credentials in the
 *   URL refused; a literal IP address is checked as below.
 * - `checkAddress` at delivery time, on the address the host name resolved to, inside the
 *   connection's own `lookup` (shared/events/deliver.ts), so that the address checked is the
 *   address connected to: a name that resolves to a public address when the endpoint is created
 *   and to 169.254.169.254 later (DNS rebinding) is refused.
 *
 * Refused in live mode: loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified,
 * multicast/reserved and IPv4-mapped forms of those. Link-local (the instance metadata address)
 * is refused in test mode as well: no storefront listens there.
 */
import { BlockList, isIP } from 'node:net';

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const privateV4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  privateV4.addSubnet(net, bits, 'ipv4');
}
const linkLocalV4 = new BlockList();
linkLocalV4.addSubnet('169.254.0.0', 16, 'ipv4');

const privateV6 = new BlockList();
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  privateV6.addSubnet(net, bits, 'ipv6');
}
const linkLocalV6 = new BlockList();
linkLocalV6.addSubnet('fe80::', 10, 'ipv6');

/** `::ffff:a.b.c.d` → `a.b.c.d`, so a mapped address is judged as the IPv4 address it is. */
function unmap(address: string): { address: string; family: 4 | 6 } | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = bare.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped) return { address: mapped[1]!, family: 4 };
  // The WHATWG URL parser writes a mapped address in hex: ::ffff:a00:1 is 10.0.0.1.
  const hex = bare.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i);
  if (hex) {
    const [hi, lo] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 4 };
  }
  const family = isIP(bare);
  return family === 0 ? null : { address: bare, family: family as 4 | 6 };
}

/** Null when a connection to `address` is allowed; else why not. */
export function checkAddress(address: string, livemode: boolean): string | null {
  const ip = unmap(address);
  if (!ip) return `not an IP address: ${address}`;
  const type = ip.family === 4 ? 'ipv4' : 'ipv6';
  const linkLocal = ip.family === 4 ? linkLocalV4 : linkLocalV6;
  if (linkLocal.check(ip.address, type)) return `link-local address ${ip.address}`;
  if (!livemode) return null;
  const priv = ip.family === 4 ? privateV4 : privateV6;
  if (priv.check(ip.address, type)) return `private or loopback address ${ip.address}`;
  return null;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function checkEndpointUrl(raw: string, livemode: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'The URL is not valid.' };
  }
  if (raw.length > 2048) return { ok: false, reason: 'The URL is longer than 2048 characters.' };
  if (url.username || url.password) return { ok: false, reason: 'The URL must not carry credentials.' };
  const host = url.hostname.toLowerCase();
  if (url.protocol === 'http:') {
    if (livemode) return { ok: false, reason: 'Live-mode endpoints must use https.' };
    if (!LOCAL_HOSTS.has(host)) {
      return { ok: false, reason: 'Test-mode endpoints must use https, or http to localhost or 127.0.0.1.' };
    }
    return { ok: true, url };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: 'The URL must use https.' };
  if (livemode && (host === 'localhost' || host.endsWith('.localhost'))) {
    return { ok: false, reason: 'Live-mode endpoints must not be on localhost.' };
  }
  const literal = unmap(host);
  if (literal) {
    const refused = checkAddress(literal.address, livemode);
    if (refused) return { ok: false, reason: `The URL points at a ${refused.replace(/ [^ ]+$/, '')}.` };
  }
  return { ok: true, url };
}
