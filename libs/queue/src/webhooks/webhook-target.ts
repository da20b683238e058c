import { lookup } from 'dns/promises';
import ipaddr from 'ipaddr.js';
import { isIP } from 'net';

/** The webhook URL must not be used: not http(s), or it points at an address we refuse. */
export class WebhookTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

/**
 * True for every address that is not public unicast: loopback, private, link-local (cloud metadata lives at
 * 169.254.169.254), unique-local, carrier-grade NAT, multicast, broadcast, reserved, unspecified, and IPv6 forms that
 * embed such an IPv4 address.
 */
export function isNonPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() !== 'unicast';
}

/**
 * Names that only ever lead inside: loopback (`localhost`, RFC 6761), private-use and link-local DNS (`.internal`,
 * `.local`, `.home.arpa`) and the cloud metadata services' own names (GCP, AWS, Azure, Alibaba, Oracle). Refused by
 * name, because offline they may not resolve at submit time and inside a cloud they resolve to the metadata address.
 */
const INTERNAL_HOST = /(^|\.)(localhost|internal|local|home\.arpa|localdomain)\.?$|^(metadata|instance-data|metadata\.azure\.com|metadata\.packet\.net)\.?$/i;

/** True for a host name (not an IP literal) that names an internal service. */
export function isInternalHostname(host: string): boolean {
  return !isIP(host) && (INTERNAL_HOST.test(host) || !host.includes('.'));
}

/** Parses and checks the scheme; returns the URL. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('the webhook URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookTargetError('the webhook URL must use http or https');
  if (url.username || url.password) throw new WebhookTargetError('the webhook URL must not carry credentials');
  return url;
}

/**
 * Refuses a URL whose host is, or resolves to, a non-public address unless `allowPrivate`. A host that does not
 * resolve now is accepted: DNS may be down or not yet set up, and every delivery checks again (see `guardedLookup`).
 */
export async function checkWebhookTarget(raw: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(raw);
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isInternalHostname(host)) throw new WebhookTargetError(`the webhook URL's host ${host} names an internal or metadata service; webhooks only go to public hosts`);
  const addresses = isIP(host) ? [host] : await lookup(host, { all: true, verbatim: true }).then((r) => r.map((a) => a.address), () => []);
  const refused = addresses.find(isNonPublicAddress);
  if (refused) throw new WebhookTargetError(`the webhook URL's host ${host} resolves to ${refused}, a private, loopback or link-local address; webhooks only go to public addresses`);
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

/**
 * A `lookup` for http.request that resolves the host itself and refuses non-public addresses (unless allowed) at
 * connection time, so a DNS answer that changed since the URL was checked (rebinding) cannot reach the inside.
 */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    if (!allowPrivate && isInternalHostname(hostname)) {
      const err: NodeJS.ErrnoException = new Error(`${hostname} names an internal or metadata service, which webhooks may not reach`);
      err.code = 'EADDRNOTAVAIL';
      return callback(err, '');
    }
    lookup(hostname, { all: true, verbatim: true, family: options.family as 0 | 4 | 6 | undefined }).then(
      (results) => {
        const usable = allowPrivate ? results : results.filter((r) => !isNonPublicAddress(r.address));
        if (!usable.length) {
          const err: NodeJS.ErrnoException = new Error(`${hostname} resolves only to non-public addresses, which webhooks may not reach`);
          err.code = 'EADDRNOTAVAIL';
          return callback(err, '');
        }
        if (options.all) return callback(null, usable);
        callback(null, usable[0].address, usable[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
