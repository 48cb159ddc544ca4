/**
 * Writes small but real MaxMind DB (`.mmdb`, format 2.0) files for tests: an IPv6 search tree (IPv4 networks
 * live under `::/96`, as in MaxMind's own databases), 24-bit records, a data section and the metadata map.
 * Readers (the `maxmind` npm package) read them exactly like GeoIP2/GeoLite2 downloads.
 * Spec: https://maxmind.github.io/MaxMind-DB/
 */
import { isIPv4 } from 'node:net';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue };

/** A double when it has a fraction, an unsigned 32-bit integer otherwise (what GeoIP2 uses for these fields). */
function encode(v: MmdbValue): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return Buffer.concat([control(14, v ? 1 : 0)]);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      const bytes: number[] = [];
      for (let n = v; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
      return Buffer.concat([control(6, bytes.length), Buffer.from(bytes)]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

/** Control byte(s): 3-bit type (extended types > 7 in a second byte) and the size with its extension bytes. */
function control(type: number, size: number): Buffer {
  const first = type > 7 ? 0 : type << 5;
  const ext = type > 7 ? [type - 7] : [];
  let sizeBits: number;
  let sizeExt: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    sizeExt = [size - 29];
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    const s = size - 285;
    sizeExt = [s >> 8, s & 0xff];
  } else {
    sizeBits = 31;
    const s = size - 65821;
    sizeExt = [(s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff];
  }
  return Buffer.from([first | sizeBits, ...ext, ...sizeExt]);
}

interface TreeNode {
  children: [TreeNode | number | null, TreeNode | number | null];
}

function bitsOf(network: string): { bits: number[]; prefix: number } {
  const [addr, p] = network.split('/');
  const bits: number[] = [];
  if (isIPv4(addr)) {
    for (let i = 0; i < 96; i++) bits.push(0);
    for (const o of addr.split('.').map(Number)) for (let i = 7; i >= 0; i--) bits.push((o >> i) & 1);
    return { bits, prefix: 96 + (p === undefined ? 32 : Number(p)) };
  }
  const [l, r = ''] = addr.split('::');
  const left = l === '' ? [] : l.split(':');
  const right = addr.includes('::') ? (r === '' ? [] : r.split(':')) : [];
  const groups = [...left, ...new Array(8 - left.length - right.length).fill('0'), ...right];
  for (const g of groups) {
    const n = Number.parseInt(g, 16);
    for (let i = 15; i >= 0; i--) bits.push((n >> i) & 1);
  }
  return { bits, prefix: p === undefined ? 128 : Number(p) };
}

/**
 * Builds an `.mmdb` whose networks (`"175.16.199.0/24"`, `"2001:db8::/32"`) map to the given records.
 * Networks must not nest.
 */
export function writeMmdb(
  databaseType: string,
  networks: ReadonlyArray<readonly [string, MmdbValue]>,
  buildEpoch = 1_700_000_000,
): Buffer {
  const dataParts: Buffer[] = [];
  let dataSize = 0;
  const root: TreeNode = { children: [null, null] };
  const leaves: Array<{ node: TreeNode; side: 0 | 1; offset: number }> = [];
  for (const [network, value] of networks) {
    const encoded = encode(value);
    const offset = dataSize;
    dataParts.push(encoded);
    dataSize += encoded.length;
    const { bits, prefix } = bitsOf(network);
    let node = root;
    for (let i = 0; i < prefix - 1; i++) {
      const b = bits[i];
      let next = node.children[b];
      if (typeof next !== 'object' || next === null) {
        next = { children: [null, null] };
        node.children[b] = next;
      }
      node = next;
    }
    const side = bits[prefix - 1] as 0 | 1;
    node.children[side] = -1;
    leaves.push({ node, side, offset });
  }
  // Number the nodes breadth-first; root is node 0.
  const order: TreeNode[] = [];
  const index = new Map<TreeNode, number>();
  const queue: TreeNode[] = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    index.set(n, order.length);
    order.push(n);
    for (const c of n.children) if (typeof c === 'object' && c !== null) queue.push(c);
  }
  const nodeCount = order.length;
  const leafValue = new Map<TreeNode, [number | null, number | null]>();
  for (const { node, side, offset } of leaves) {
    const v = leafValue.get(node) ?? [null, null];
    v[side] = nodeCount + 16 + offset;
    leafValue.set(node, v);
  }
  const tree = Buffer.alloc(nodeCount * 6);
  order.forEach((n, i) => {
    for (const side of [0, 1] as const) {
      const c = n.children[side];
      let rec: number;
      if (typeof c === 'object' && c !== null) rec = index.get(c)!;
      else if (c === -1) rec = leafValue.get(n)![side]!;
      else rec = nodeCount; // no data
      tree.writeUIntBE(rec, i * 6 + side * 3, 3);
    }
  });
  const metadata = encode({
    node_count: nodeCount,
    record_size: 24,
    ip_version: 6,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: buildEpoch,
    description: { en: `Furrow test ${databaseType}` },
  });
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...dataParts,
    Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'),
    metadata,
  ]);
}
