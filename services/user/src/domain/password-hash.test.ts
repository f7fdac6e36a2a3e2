import assert from "node:assert/strict";
import { test } from "node:test";
import { hashPassword, verifyPassword } from "./password-hash.ts";

const FAST = { N: 16_384, r: 8, p: 1 };

test("a password verifies against its own hash and no other password does", async () => {
  const hash = await hashPassword("correct horse battery", FAST);
  assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.deepEqual(await verifyPassword("correct horse battery", hash, FAST), {
    ok: true,
    needsRehash: false,
  });
  assert.equal((await verifyPassword("correct horse batterY", hash, FAST)).ok, false);
});

test("the same password hashes differently each time (random salt)", async () => {
  assert.notEqual(await hashPassword("same", FAST), await hashPassword("same", FAST));
});

test("a hash made with a lower cost verifies and asks to be rehashed", async () => {
  const hash = await hashPassword("pw", FAST);
  assert.deepEqual(await verifyPassword("pw", hash, { N: 32_768, r: 8, p: 1 }), {
    ok: true,
    needsRehash: true,
  });
});

test("a malformed stored hash never matches", async () => {
  for (const stored of ["", "plaintext", "scrypt$1$2$3$abc", "bcrypt$x$y$z$a$b"]) {
    assert.equal((await verifyPassword("pw", stored, FAST)).ok, false, stored);
  }
});
