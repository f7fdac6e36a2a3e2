import assert from "node:assert/strict";
import { test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { createRememberedCards, type KnownCard } from "./remembered-cards.ts";

const card = (last4: string): KnownCard => ({
  facts: { brand: CardBrand.VISA, last4, expMonth: 12, expYear: 2040 },
  behaviour: { kind: "succeed" },
});

test("remembers up to its limit and forgets the least recently used card first", () => {
  const cards = createRememberedCards(2);
  cards.remember("tok_a", card("1111"));
  cards.remember("tok_b", card("2222"));
  assert.equal(cards.get("tok_a")?.facts.last4, "1111", "a is now the most recently used");
  cards.remember("tok_c", card("3333"));
  assert.equal(cards.get("tok_b"), undefined, "b was the least recently used");
  assert.equal(cards.get("tok_a")?.facts.last4, "1111");
  assert.equal(cards.get("tok_c")?.facts.last4, "3333");
});

test("a limit of 0 remembers nothing", () => {
  const cards = createRememberedCards(0);
  cards.remember("tok_a", card("1111"));
  assert.equal(cards.get("tok_a"), undefined);
});

test("a remembered card cannot be changed through the object it was given or handed out", () => {
  const cards = createRememberedCards(10);
  const facts = { ...card("4242").facts };
  cards.remember("tok_a", { facts, behaviour: { kind: "succeed" } });
  facts.last4 = "0000";
  const remembered = cards.get("tok_a")!;
  assert.equal(remembered.facts.last4, "4242");
  assert.throws(() => {
    (remembered.facts as { last4: string }).last4 = "0000";
  }, TypeError);
  assert.equal(cards.get("tok_a")?.facts.last4, "4242");
});
