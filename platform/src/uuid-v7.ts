import { randomFillSync } from "node:crypto";

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Returns a new UUIDv7 (RFC 9562) string: 48 bits of Unix milliseconds, then random bits.
 * shopmesh ids are UUIDv7 because they sort by creation time, which keeps b-tree inserts
 * local and makes ids readable in logs; randomness comes from a pooled CSPRNG buffer so
 * generating one costs no syscall.
 */
export function uuidv7(now = Date.now()): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const b = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  // 48-bit big-endian millisecond timestamp; split because bit operators are 32-bit.
  const high = Math.floor(now / 2 ** 16);
  b[0] = (high >>> 24) & 0xff;
  b[1] = (high >>> 16) & 0xff;
  b[2] = (high >>> 8) & 0xff;
  b[3] = high & 0xff;
  b[4] = (now >>> 8) & 0xff;
  b[5] = now & 0xff;
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += hex[b[i]!];
  }
  return out;
}
