import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createSealer, loadOrCreateDevKeyFile } from "@shopmesh/platform/sealed-secrets";
import { compactDecrypt, importJWK } from "jose";
import { notificationPublicKey } from "../src/notification-key.ts";

const dir = await mkdtemp(join(tmpdir(), "shopmesh-notification-key-"));
after(() => rm(dir, { recursive: true, force: true }));

test("concurrent first starts agree on one private dev key file, readable only by its owner", async () => {
  const path = join(dir, "keys", "notification-jwe.json");
  const keys = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateDevKeyFile(path)));
  assert.equal(new Set(keys.map((k) => k.kid)).size, 1);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(
    await readdir(join(dir, "keys")),
    ["notification-jwe.json"],
    "no temp files left",
  );
  assert.equal(keys[0]?.alg, "RSA-OAEP-256");
  assert.ok(keys[0]?.d, "the file holds the private key for the notification service");
});

test("the user service seals with the public half only; the private key opens the seal", async () => {
  const path = join(dir, "keys", "notification-jwe.json");
  const publicJwk = await notificationPublicKey({
    notificationPublicJwk: "",
    notificationKeyFile: path,
  });
  assert.equal(publicJwk.d, undefined);
  const sealer = await createSealer(publicJwk);
  const jwe = await sealer.seal({ code: "012345" });
  const header = JSON.parse(Buffer.from(jwe.split(".")[0] ?? "", "base64url").toString());
  assert.deepEqual(
    [header.alg, header.enc, header.kid],
    ["RSA-OAEP-256", "A256GCM", publicJwk.kid],
  );
  const privateJwk = await loadOrCreateDevKeyFile(path);
  const { plaintext } = await compactDecrypt(jwe, await importJWK(privateJwk, "RSA-OAEP-256"));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(plaintext)), { code: "012345" });
});

test("NOTIFICATION_PUBLIC_JWK wins over the file and must be an RSA key", async () => {
  const { kid } = await loadOrCreateDevKeyFile(join(dir, "keys", "notification-jwe.json"));
  const other = await loadOrCreateDevKeyFile(join(dir, "other.json"));
  const chosen = await notificationPublicKey({
    notificationPublicJwk: JSON.stringify({
      kty: other.kty,
      n: other.n,
      e: other.e,
      kid: other.kid,
    }),
    notificationKeyFile: join(dir, "keys", "notification-jwe.json"),
  });
  assert.equal(chosen.kid, other.kid);
  assert.notEqual(chosen.kid, kid);
  await assert.rejects(
    notificationPublicKey({
      notificationPublicJwk: '{"kty":"OKP","x":"abc"}',
      notificationKeyFile: "",
    }),
    /NOTIFICATION_PUBLIC_JWK/,
  );
});
