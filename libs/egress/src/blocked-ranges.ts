import { BlockList } from 'node:net';

/**
 * Addresses psc never calls unless the allow list names them: loopback, private, link-local
 * (cloud metadata lives at 169.254.169.254 and fd00:ec2::254), CGNAT, unique-local, multicast,
 * documentation, benchmarking and reserved ranges, and every IPv4-mapped or translated IPv6 form.
 */
const IPV4: readonly [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local or cloud metadata'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'relay anycast'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved or broadcast'],
];

const IPV6: readonly [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::ffff:0:0', 96, 'IPv4-mapped'],
  // SIIT's IPv4-translated form (RFC 2765), `::ffff:0:a.b.c.d`: a translator on the path would
  // deliver it to the IPv4 address, so it is refused like the mapped form.
  ['::ffff:0:0:0', 96, 'IPv4-translated'],
  ['::', 96, 'IPv4-compatible'],
  ['64:ff9b::', 96, 'NAT64'],
  ['64:ff9b:1::', 48, 'NAT64'],
  ['100::', 64, 'discard'],
  ['2001::', 23, 'IETF reserved'],
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

function listOf(ranges: readonly [string, number, string][], family: 'ipv4' | 'ipv6') {
  return ranges.map(([net, prefix, reason]) => {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    return { list, reason };
  });
}

const V4 = listOf(IPV4, 'ipv4');
const V6 = listOf(IPV6, 'ipv6');

/** Why `address` (an IP literal of `family`) is refused, or undefined when it is public. */
export function blockedReason(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
  // An IPv4 rule also matches the IPv4-mapped IPv6 form, whose IPv4 reason (loopback…) is more
  // telling than "IPv4-mapped"; IPv6 rules are only asked about IPv6 addresses, because BlockList
  // would match `::ffff:0:0/96` against every IPv4 address.
  const found = V4.find((r) => r.list.check(address, family));
  if (found || family === 'ipv4') return found?.reason;
  return V6.find((r) => r.list.check(address, family))?.reason;
}
