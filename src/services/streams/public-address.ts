import { isIP } from 'node:net';

/** An address block: its network as a number and its prefix length, in a 32-bit (IPv4) or 128-bit (IPv6) space. */
interface Block {
  network: bigint;
  prefix: number;
  bits: 32 | 128;
}

const MASK32 = 0xffffffffn;

const ipv4Value = (address: string) => address.split('.').reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);

/** An IPv6 address (any valid spelling: `::` shorthand, a trailing dotted IPv4) as a 128-bit number. */
function ipv6Value(address: string): bigint {
  const text = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_, a, b, c, d) => `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head, tail] = text.split('::').map((part) => (part === '' ? [] : part.split(':')));
  const groups = tail ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n);
}

function block(cidr: string): Block {
  const [network, prefix] = cidr.split('/');
  const v4 = isIP(network) === 4;
  return { network: v4 ? ipv4Value(network) : ipv6Value(network), prefix: Number(prefix), bits: v4 ? 32 : 128 };
}

const inBlock = (value: bigint, { network, prefix, bits }: Block) => value >> BigInt(bits - prefix) === network >> BigInt(bits - prefix);

/**
 * Every block of IANA's "IPv4 Special-Purpose Address Registry" (RFC 6890 and its updates; smaller
 * entries inside these are covered by them), and multicast (224.0.0.0/4). All are refused, even the
 * few the registry marks globally reachable: they are anycast services (PCP, TURN, AS112, AMT) that
 * the nearest server answers, often a gateway inside egress's own network, and none is a streaming service.
 */
const SPECIAL_IPV4 = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private use
  '100.64.0.0/10', // shared address space (carrier-grade NAT)
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link local (cloud metadata services)
  '172.16.0.0/12', // private use
  '192.0.0.0/24', // IETF protocol assignments (PCP and TURN anycast, NAT64 discovery, ...)
  '192.0.2.0/24', // documentation (TEST-NET-1)
  '192.31.196.0/24', // AS112-v4
  '192.52.193.0/24', // AMT
  '192.88.99.0/24', // deprecated 6to4 relay anycast
  '192.168.0.0/16', // private use
  '192.175.48.0/24', // direct delegation AS112 service
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation (TEST-NET-2)
  '203.0.113.0/24', // documentation (TEST-NET-3)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, with 255.255.255.255 (limited broadcast)
].map(block);

/** IPv6 global unicast: every public IPv6 address is in it (the rest is loopback, link-local, ULA, multicast, ...). */
const GLOBAL_UNICAST = block('2000::/3');

/**
 * The blocks of IANA's "IPv6 Special-Purpose Address Registry" inside 2000::/3 (those outside it are
 * refused anyway), refused as for IPv4. 6to4 (2002::/16) and Teredo (2001::/32) are decided by the
 * IPv4 addresses they embed (EMBEDDED_IPV4).
 */
const SPECIAL_IPV6 = [
  '2001::/23', // IETF protocol assignments: PCP/TURN/DNS-SD anycast, benchmarking, AMT, AS112, ORCHID, DETs
  '2001:db8::/32', // documentation
  '2620:4f:8000::/48', // direct delegation AS112 service
  '3fff::/20', // documentation
].map(block);

/**
 * RFC 6052's embedding of an IPv4 address after a NAT64 prefix of `prefix` bits: it follows the
 * prefix but skips bits 64-71 (the "u" octet).
 */
function nat64Ipv4(value: bigint, prefix: number): bigint {
  const withoutU = ((value >> 64n) << 56n) | (value & ((1n << 56n) - 1n));
  const start = prefix <= 64 ? prefix : prefix - 8;
  return (withoutU >> BigInt(120 - start - 32)) & MASK32;
}

/**
 * IPv6 blocks that carry an IPv4 address egress's traffic would reach: the addresses to check as IPv4.
 * Teredo (RFC 4380) names a server (bits 32-63) and a client (the last 32 bits, inverted): both are
 * checked, since a Teredo host sends to the client directly and to the server to open the way.
 */
const EMBEDDED_IPV4: Array<[Block, (value: bigint) => bigint[]]> = [
  [block('::ffff:0:0/96'), (value) => [value & MASK32]], // IPv4-mapped
  [block('::/96'), (value) => [value & MASK32]], // IPv4-compatible (deprecated), with :: and ::1
  [block('64:ff9b::/96'), (value) => [value & MASK32]], // NAT64 well-known prefix
  // The local-use NAT64 prefix: its operator picks the prefix length, so every one that fits is checked.
  [block('64:ff9b:1::/48'), (value) => [48, 56, 64, 96].map((prefix) => nat64Ipv4(value, prefix))],
  [block('2002::/16'), (value) => [(value >> 80n) & MASK32]], // 6to4: bits 16-47
  [block('2001::/32'), (value) => [(value >> 64n) & MASK32, (value & MASK32) ^ MASK32]], // Teredo: server, client
];

const isPublicIpv4 = (value: bigint) => !SPECIAL_IPV4.some((special) => inBlock(value, special));

function isPublicIpv6(value: bigint): boolean {
  const embedding = EMBEDDED_IPV4.find(([carrier]) => inBlock(value, carrier));
  if (embedding) return embedding[1](value).every(isPublicIpv4);
  return inBlock(value, GLOBAL_UNICAST) && !SPECIAL_IPV6.some((special) => inBlock(value, special));
}

/**
 * Whether `address` (an IPv4 or IPv6 address as a resolver answers it, or a URL's host without its
 * brackets) is public unicast: reachable on the internet, not inside egress's own network.
 * Anything that is not an IP address is not.
 */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/%.*$/, ''); // an IPv6 zone (fe80::1%eth0) is link-local anyway
  const family = isIP(ip);
  if (family === 4) return isPublicIpv4(ipv4Value(ip));
  return family === 6 && isPublicIpv6(ipv6Value(ip));
}
