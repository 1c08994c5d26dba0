import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { AppError } from '@psc/core';
import { parseAllowList } from './allow-list.ts';
import { blockedReason } from './blocked-ranges.ts';

export interface EgressGuardOptions {
  /**
   * Hosts, IP addresses and CIDRs that may be called even though they are loopback or private
   * (`PSC_EGRESS_ALLOW`, e.g. `['127.0.0.1', 'localhost']`). A host name entry allows that name
   * whatever it resolves to; an address or CIDR entry allows those addresses for any name.
   */
  allow: readonly string[];
  /**
   * Resolves a host name to its IP addresses. Default: `dns.lookup` with `all: true`. Tests pass
   * a stub so no query leaves the machine.
   */
  resolve?: (hostname: string) => Promise<string[]>;
}

export interface EgressGuard {
  /**
   * Resolves when psc may call `url`; otherwise rejects with an `AppError` code `egress_denied`
   * (status 422, not retryable) whose message says why and names the host, never credentials.
   * Refuses: anything but http(s); user info (`user:pw@host`); hosts written as integers, hex or
   * octal (`2130706433`, `0x7f000001`); and hosts that are, or resolve to, a loopback, private,
   * link-local, CGNAT, unique-local, metadata, IPv4-mapped or other reserved address, unless
   * the allow list names them. An unresolvable host is refused too.
   */
  checkUrl(url: string): Promise<void>;
  /**
   * A `dns.lookup`-compatible function for `new http.Agent({ lookup })`: resolves like
   * `checkUrl` and fails the connection with `egress_denied` when any address is refused, so a
   * name that changed its answer since `checkUrl` (DNS rebinding) is caught at connect time.
   * Node does not call `lookup` for IP literals: `checkUrl` covers those.
   */
  lookup: LookupFunction;
}

const MAPPED = new BlockList();
MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

const denied = (message: string, reason: string): AppError =>
  new AppError('egress_denied', 422, `egress denied: ${message}`, {
    retryable: false,
    details: { reason },
  });

const defaultResolve = async (hostname: string): Promise<string[]> =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** The host as typed in the URL (after user info, before the port), lower case. */
function rawHost(url: string): string {
  const afterScheme = url.slice(url.indexOf(':') + 1).replace(/^[/\\]+/, '');
  const authority = afterScheme.split(/[/?#\\]/, 1)[0] ?? '';
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  const bracketed = /^\[[^\]]*\]/.exec(host);
  return (bracketed ? bracketed[0] : host.replace(/:\d*$/, '')).toLowerCase().replace(/\.$/, '');
}

/**
 * The SSRF guard every outgoing platform call goes through. Use both halves:
 *
 * ```ts
 * const guard = createEgressGuard({ allow: config.egressAllow });
 * const agent = new https.Agent({ lookup: guard.lookup }); // and an http.Agent likewise
 * await guard.checkUrl(url);           // before EVERY request, each page and redirect hop
 * await fetch(url, { agent, redirect: 'manual' });
 * ```
 *
 * `checkUrl` refuses bad schemes, user info, numeric tricks and IP literals; `lookup` re-checks
 * what a name resolves to at connect time. Do not follow redirects automatically: check the
 * `Location` with `checkUrl` first (or refuse it).
 */
export function createEgressGuard(options: EgressGuardOptions): EgressGuard {
  const allow = parseAllowList(options.allow);
  const resolve = options.resolve ?? defaultResolve;

  /** Why `address` may not be called, or undefined when it may. */
  const refusal = (address: string): string | undefined => {
    // The allow list's IPv4 entries would match their IPv4-mapped IPv6 forms: never allow those.
    if (isIP(address) === 6 && MAPPED.check(address, 'ipv6')) return 'IPv4-mapped';
    if (allow.allowsAddress(address)) return undefined;
    return blockedReason(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  };

  async function addressesOf(hostname: string): Promise<string[]> {
    let addresses: string[];
    try {
      addresses = await resolve(hostname);
    } catch {
      throw denied(`cannot resolve ${hostname}`, 'unresolvable');
    }
    if (addresses.length === 0) throw denied(`cannot resolve ${hostname}`, 'unresolvable');
    for (const address of addresses) {
      if (isIP(address) === 0) throw denied(`${hostname} resolved to a non-address`, 'invalid');
      const reason = refusal(address);
      if (reason) throw denied(`${hostname} resolves to a blocked address (${reason})`, reason);
    }
    return addresses;
  }

  async function checkUrl(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw denied('not a valid URL', 'invalid_url');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw denied(`scheme ${parsed.protocol.replace(/:$/, '')} is not http(s)`, 'scheme');
    }
    if (parsed.username !== '' || parsed.password !== '') {
      throw denied('credentials in the URL are not allowed', 'userinfo');
    }
    const hostname = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (isIP(hostname) === 4 && rawHost(url) !== hostname) {
      // WHATWG turns 2130706433, 0x7f000001 and 0177.0.0.1 into 127.0.0.1: refuse the disguise.
      throw denied(`host ${rawHost(url)} is a disguised IP address`, 'numeric_host');
    }
    if (isIP(hostname) !== 0) {
      const reason = refusal(hostname);
      if (reason) throw denied(`${hostname} is a blocked address (${reason})`, reason);
      return;
    }
    if (allow.allowsHost(hostname)) return;
    await addressesOf(hostname);
  }

  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    const requested = typeof lookupOptions === 'number' ? lookupOptions : lookupOptions.family;
    const wanted = requested === 'IPv4' ? 4 : requested === 'IPv6' ? 6 : (requested ?? 0);
    const all = typeof lookupOptions === 'object' && lookupOptions.all === true;
    const resolved =
      isIP(hostname) !== 0
        ? checkUrl(`http://${isIP(hostname) === 6 ? `[${hostname}]` : hostname}/`).then(() => [
            hostname,
          ])
        : allow.allowsHost(hostname)
          ? resolve(hostname)
          : addressesOf(hostname);
    resolved.then(
      (addresses) => {
        const list: LookupAddress[] = addresses
          .map((address) => ({ address, family: isIP(address) }))
          .filter((a) => wanted === 0 || a.family === wanted);
        const first = list[0];
        if (!first) {
          callback(denied(`cannot resolve ${hostname}`, 'unresolvable'), '', 0);
          return;
        }
        if (all) callback(null, list);
        else callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };

  return { checkUrl, lookup };
}
