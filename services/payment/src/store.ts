import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import type { DeclineCode, RefundReason } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { changeWithOutbox } from "@shopmesh/platform/outbox";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { Payment, PaymentState, Refund, RefundState } from "./domain/payment.ts";
import type { GatewayTables } from "./gateway/simulated-gateway-tables.ts";

/** One charge attempt. bigint columns come back from pg as strings. */
export interface PaymentsTable {
  id: string;
  order_id: string;
  user_id: string;
  currency_code: string;
  amount_minor: string;
  status: PaymentState;
  payment_token: string;
  card_brand: string | null;
  card_last4: string | null;
  card_exp_month: number | null;
  card_exp_year: number | null;
  description: string;
  gateway_reference: string;
  failure_code: number | null;
  failure_message: string | null;
  refunded_minor: string;
  idempotency_key: string;
  request_hash: string;
  created_at: Date;
  updated_at: Date;
}

/** One refund of a payment. */
export interface RefundsTable {
  id: string;
  payment_id: string;
  amount_minor: string;
  reason: number;
  note: string;
  status: RefundState;
  gateway_reference: string;
  failure_code: number | null;
  failure_message: string | null;
  idempotency_key: string;
  request_hash: string;
  created_at: Generated<Date>;
  updated_at: Date;
}

/** Every table of the payments database. */
export interface PaymentDatabase extends PlatformTables, GatewayTables {
  payments: PaymentsTable;
  refunds: RefundsTable;
}

/** The database handle, or a transaction on it. */
export type Db = Kysely<PaymentDatabase> | Transaction<PaymentDatabase>;

function toPayment(row: Selectable<PaymentsTable>): Payment {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    amount: { currencyCode: row.currency_code, minor: BigInt(row.amount_minor) },
    status: row.status,
    card:
      row.card_last4 === null
        ? undefined
        : {
            brand:
              CardBrand[(row.card_brand ?? "OTHER") as keyof typeof CardBrand] ?? CardBrand.OTHER,
            last4: row.card_last4,
            expMonth: row.card_exp_month ?? 0,
            expYear: row.card_exp_year ?? 0,
          },
    token: row.payment_token,
    description: row.description,
    gatewayReference: row.gateway_reference,
    failure:
      row.failure_code === null
        ? undefined
        : { code: row.failure_code as DeclineCode, message: row.failure_message ?? "" },
    refundedMinor: BigInt(row.refunded_minor),
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function fromPayment(p: Payment): PaymentsTable {
  return {
    id: p.id,
    order_id: p.orderId,
    user_id: p.userId,
    currency_code: p.amount.currencyCode,
    amount_minor: p.amount.minor.toString(),
    status: p.status,
    payment_token: p.token,
    card_brand: p.card ? CardBrand[p.card.brand] : null,
    card_last4: p.card?.last4 ?? null,
    card_exp_month: p.card?.expMonth ?? null,
    card_exp_year: p.card?.expYear ?? null,
    description: p.description,
    gateway_reference: p.gatewayReference,
    failure_code: p.failure?.code ?? null,
    failure_message: p.failure?.message ?? null,
    refunded_minor: p.refundedMinor.toString(),
    idempotency_key: p.idempotencyKey,
    request_hash: p.requestHash,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

function toRefund(row: Selectable<RefundsTable>, currencyCode: string): Refund {
  return {
    id: row.id,
    paymentId: row.payment_id,
    amount: { currencyCode, minor: BigInt(row.amount_minor) },
    reason: row.reason as RefundReason,
    note: row.note,
    status: row.status,
    gatewayReference: row.gateway_reference,
    failure:
      row.failure_code === null
        ? undefined
        : { code: row.failure_code as DeclineCode, message: row.failure_message ?? "" },
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * What claiming a charge found: the payment it inserted, or the one already holding the
 * idempotency key, or the order's charge that is pending or took money. All undefined when a
 * concurrent call took the key or the order after this statement's snapshot: look again.
 */
export interface ChargeClaim {
  inserted?: Payment;
  sameKey?: Payment;
  activeForOrder?: Payment;
}

/**
 * Inserts a new pending payment unless its idempotency key is taken or its order already has a
 * charge that is pending or took money (the partial unique index), and reads what stood in its
 * way, in one statement: the common case (a new charge) and a replay are one round trip each.
 */
export async function claimCharge(db: Db, payment: Payment): Promise<ChargeClaim> {
  const insert = db
    .insertInto("payments")
    .values(fromPayment(payment))
    .onConflict((oc) => oc.doNothing())
    .returningAll();
  // The SELECTs see the snapshot from before the INSERT, never the row it adds.
  const { rows } = await sql<Selectable<PaymentsTable> & { found_by: keyof ChargeClaim }>`
    WITH inserted AS (${insert})
    SELECT 'inserted' AS found_by, * FROM inserted
    UNION ALL
    SELECT 'sameKey', * FROM payments WHERE idempotency_key = ${payment.idempotencyKey}
    UNION ALL
    SELECT 'activeForOrder', * FROM payments
    WHERE order_id = ${payment.orderId} AND status <> 'FAILED'`.execute(db);
  const claim: ChargeClaim = {};
  for (const { found_by, ...row } of rows) claim[found_by] = toPayment(row);
  return claim;
}

/**
 * Records a pending charge's outcome with its events in one statement (no BEGIN/COMMIT), if
 * the payment is still PENDING; undefined when a concurrent call settled it first, and then
 * nothing is written or emitted.
 */
export async function saveSettledCharge(
  db: Kysely<PaymentDatabase>,
  settled: Payment,
  events: readonly NewEvent[],
): Promise<Payment | undefined> {
  const row = fromPayment(settled);
  const update = db
    .updateTable("payments")
    .set({
      status: row.status,
      card_brand: row.card_brand,
      card_last4: row.card_last4,
      card_exp_month: row.card_exp_month,
      card_exp_year: row.card_exp_year,
      gateway_reference: row.gateway_reference,
      failure_code: row.failure_code,
      failure_message: row.failure_message,
      updated_at: row.updated_at,
    })
    .where("id", "=", settled.id)
    .where("status", "=", "PENDING")
    .returningAll();
  const [saved] = await changeWithOutbox(
    db,
    {
      change: sql`settled AS (${update})`,
      result: sql<Selectable<PaymentsTable>>`SELECT * FROM settled`,
    },
    events,
  );
  return saved && toPayment(saved);
}

/** Saves a payment's new state. */
export async function updatePayment(db: Db, payment: Payment): Promise<void> {
  const { id: _id, created_at: _c, ...changes } = fromPayment(payment);
  await db.updateTable("payments").set(changes).where("id", "=", payment.id).execute();
}

/** The payment with `id`; `lock` takes its row lock until the transaction ends. */
export async function findPayment(db: Db, id: string, lock = false): Promise<Payment | undefined> {
  let query = db.selectFrom("payments").selectAll().where("id", "=", id);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && toPayment(row);
}

/** The order's payment to show: the one that took money if any, else the latest attempt. */
export async function findPaymentForOrder(db: Db, orderId: string): Promise<Payment | undefined> {
  // At most one attempt is not FAILED (the partial unique index); it sorts first.
  const row = await db
    .selectFrom("payments")
    .selectAll()
    .where("order_id", "=", orderId)
    .orderBy(sql`status = 'FAILED'`)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  return row && toPayment(row);
}

/** The reconciler's query: PENDING payments last touched before `olderThan`, oldest first. */
export function stalePendingPaymentsQuery(db: Db, olderThan: Date, limit: number) {
  return db
    .selectFrom("payments")
    .selectAll()
    .where("status", "=", "PENDING")
    .where("updated_at", "<", olderThan)
    .orderBy("updated_at")
    .limit(limit);
}

/** Pending payments older than `olderThan`, for the reconciler. */
export async function listStalePendingPayments(
  db: Db,
  olderThan: Date,
  limit: number,
): Promise<Payment[]> {
  const rows = await stalePendingPaymentsQuery(db, olderThan, limit).execute();
  return rows.map(toPayment);
}

/** A payment's refunds, oldest first. */
export async function listRefunds(db: Db, payment: Payment): Promise<Refund[]> {
  const rows = await db
    .selectFrom("refunds")
    .selectAll()
    .where("payment_id", "=", payment.id)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => toRefund(r, payment.amount.currencyCode));
}

/** The refund created with an idempotency key, with the currency of its payment. */
export async function findRefundByKey(db: Db, key: string): Promise<Refund | undefined> {
  const row = await db
    .selectFrom("refunds")
    .innerJoin("payments", "payments.id", "refunds.payment_id")
    .selectAll("refunds")
    .select("payments.currency_code")
    .where("refunds.idempotency_key", "=", key)
    .executeTakeFirst();
  return row && toRefund(row, row.currency_code);
}

/** Stores a new refund. */
export async function insertRefund(db: Db, refund: Refund): Promise<void> {
  await db
    .insertInto("refunds")
    .values({
      id: refund.id,
      payment_id: refund.paymentId,
      amount_minor: refund.amount.minor.toString(),
      reason: refund.reason,
      note: refund.note,
      status: refund.status,
      gateway_reference: refund.gatewayReference,
      failure_code: refund.failure?.code ?? null,
      failure_message: refund.failure?.message ?? null,
      idempotency_key: refund.idempotencyKey,
      request_hash: refund.requestHash,
      created_at: refund.createdAt,
      updated_at: refund.updatedAt,
    })
    .execute();
}

/** Saves a refund's outcome. */
export async function updateRefund(db: Db, refund: Refund): Promise<void> {
  await db
    .updateTable("refunds")
    .set({
      status: refund.status,
      gateway_reference: refund.gatewayReference,
      failure_code: refund.failure?.code ?? null,
      failure_message: refund.failure?.message ?? null,
      updated_at: refund.updatedAt,
    })
    .where("id", "=", refund.id)
    .execute();
}
