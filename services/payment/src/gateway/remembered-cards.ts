import { LRUCache } from "lru-cache";
import type { CardFacts } from "./gateway.ts";
import type { CardBehaviour } from "./test-cards.ts";

/** What the simulated gateway knows about a tokenized card: its facts and how charges behave. */
export interface KnownCard {
  facts: Readonly<CardFacts>;
  behaviour: Readonly<CardBehaviour>;
}

/** Cards a gateway process has tokenized or read, by token; bounded, least recently used out. */
export interface RememberedCards {
  /** The card behind `token` if this process has seen it, else undefined (ask the table). */
  get(token: string): KnownCard | undefined;
  remember(token: string, card: KnownCard): void;
}

/**
 * Remembers up to `limit` cards in process memory, so a charge on a card the process has seen
 * needs no read of `gateway_cards`. Safe only because a card never changes once tokenized: the
 * simulated gateway has no path that updates or deletes a `gateway_cards` row, and tokens are
 * random and never reused, so a remembered card cannot go stale and every replica agrees with
 * what it would read. (Expiry is stored as a month and year and judged at each charge, so a
 * remembered card still expires.) A gateway that lets cards be detached must forget them here.
 * Holds only what the table holds: no card number, no CVC.
 */
export function createRememberedCards(limit: number): RememberedCards {
  if (limit <= 0) return { get: () => undefined, remember: () => {} };
  const cards = new LRUCache<string, KnownCard>({ max: limit });
  return {
    get: (token) => cards.get(token),
    remember(token, card) {
      cards.set(token, {
        facts: Object.freeze({ ...card.facts }),
        behaviour: Object.freeze({ ...card.behaviour }),
      });
    },
  };
}
