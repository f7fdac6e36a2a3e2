import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, FailedPreconditionError, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { type RunningService, startService } from "@shopmesh/platform/service";
import { Registry } from "prom-client";
import { TickService } from "./fixtures/tick-service.ts";

type Tick = { delayMs: number };

describe("server streaming", () => {
  let service: RunningService;
  let handlerRuns = 0;
  before(async () => {
    service = await startService({
      name: "ticks",
      host: "127.0.0.1",
      port: 0,
      logger: createLogger("ticks", "silent"),
      registry: new Registry(),
      handleSignals: false,
      services: [
        [
          TickService,
          {
            // Streams delay_ms ticks, numbered 1..n; fails after 2 ticks when delay_ms is 13.
            async *ticks(request: MessageShape<DescMessage>) {
              handlerRuns++;
              const { delayMs } = request as unknown as Tick;
              for (let i = 1; i <= delayMs; i++) {
                if (delayMs === 13 && i === 3) throw new FailedPreconditionError("tick 3 refused");
                yield { sleptMs: i };
              }
            },
          },
        ],
      ],
    });
  });
  after(async () => {
    closeClients();
    await service.stop();
  });

  const client = () =>
    createClient(TickService, `127.0.0.1:${service.port}`) as unknown as {
      ticks(request: Tick): AsyncIterable<{ sleptMs: number }>;
    };

  test("delivers every streamed response in order", async () => {
    const received: number[] = [];
    for await (const tick of client().ticks({ delayMs: 5 })) received.push(tick.sleptMs);
    assert.deepEqual(received, [1, 2, 3, 4, 5]);
  });

  test("ends the stream with the mapped status when the handler throws mid-stream", async () => {
    const received: number[] = [];
    const err = await (async () => {
      for await (const tick of client().ticks({ delayMs: 13 })) received.push(tick.sleptMs);
    })().catch((e: unknown) => e);
    assert.deepEqual(received, [1, 2]);
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.equal(err.message, "tick 3 refused");
  });

  test("validates the request before the handler starts streaming", async () => {
    const before = handlerRuns;
    const err = await (async () => {
      for await (const _ of client().ticks({ delayMs: -1 })) assert.fail("no tick expected");
    })().catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.match(err.message, /^delay_ms: /);
    assert.equal(handlerRuns, before);
  });
});
