import { BlockList, isIP } from 'node:net';

export interface AllowList {
  /** True when the host name itself is allowed (whatever it resolves to). */
  allowsHost(hostname: string): boolean;
  /** True when the IP address is inside an allowed address or CIDR. */
  allowsAddress(address: string): boolean;
}

const family = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Parses allow entries: host names (`localhost`, `api.example.com`), IP addresses (`127.0.0.1`,
 * `::1`) and CIDRs (`10.1.0.0/16`). Throws on an entry that is none of these.
 */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const addresses = new BlockList();
  for (const raw of entries) {
    const entry = raw
      .trim()
      .toLowerCase()
      .replace(/^\[|\]$/g, '');
    if (entry === '') continue;
    const [net, prefix, extra] = entry.split('/');
    if (net !== undefined && isIP(net) && extra === undefined) {
      const bits = prefix === undefined ? (isIP(net) === 6 ? 128 : 32) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (isIP(net) === 6 ? 128 : 32)) {
        throw new Error(`egress allow entry ${raw}: bad prefix length`);
      }
      addresses.addSubnet(net, bits, family(net));
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) {
      hosts.add(entry.replace(/\.$/, ''));
    } else {
      throw new Error(`egress allow entry ${raw}: not a host name, IP address or CIDR`);
    }
  }
  return {
    allowsHost: (hostname) => hosts.has(hostname.toLowerCase().replace(/\.$/, '')),
    allowsAddress: (address) => isIP(address) !== 0 && addresses.check(address, family(address)),
  };
}
