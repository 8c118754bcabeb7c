import { isIPv4, isIPv6 } from 'node:net';

/** An IPv4 or IPv6 CIDR as a number range, so "is this address inside that block" is arithmetic. */
interface Block {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

function v6ToBigInt(address: string): bigint {
  const [head, tail = ''] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const all = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((acc, group) => (acc << 16n) + BigInt(parseInt(group, 16)), 0n);
}

export function parseCidr(cidr: string): Block {
  const [address, prefixText] = cidr.split('/');
  const prefix = Number(prefixText);
  if (isIPv4(address) && Number.isInteger(prefix) && prefix >= 0 && prefix <= 32) {
    const value = address.split('.').reduce((acc, octet) => (acc << 8n) + BigInt(Number(octet)), 0n);
    const size = 1n << BigInt(32 - prefix);
    const first = value - (value % size);
    return { family: 4, first, last: first + size - 1n };
  }
  if (isIPv6(address) && !address.includes('.') && Number.isInteger(prefix) && prefix >= 0 && prefix <= 128) {
    const value = v6ToBigInt(address);
    const size = 1n << BigInt(128 - prefix);
    const first = value - (value % size);
    return { family: 6, first, last: first + size - 1n };
  }
  throw new Error(`not an IPv4 or IPv6 CIDR: "${cidr}"`);
}

export const isCidr = (text: string): boolean => {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
};

/** Whether `inner` lies inside `outer` and is smaller: what a NetworkPolicy `except` must be. */
export function isStrictSubset(inner: string, outer: string): boolean {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  return a.family === b.family && a.first >= b.first && a.last <= b.last && (a.first !== b.first || a.last !== b.last);
}
