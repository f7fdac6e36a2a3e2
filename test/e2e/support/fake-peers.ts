import { setTimeout as sleep } from "node:timers/promises";
import type { DescService } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  Availability,
  InventoryService,
  ReservationStatus,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  DeclineCode,
  PaymentService,
  PaymentStatus,
} from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import {
  ServiceLevel,
  ShipmentStatus,
  ShippingService,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import {
  Code,
  FailedPreconditionError,
  NotFoundError,
  ServiceError,
  UnavailableError,
} from "@shopmesh/platform/errors";
import { createGrpcServer } from "@shopmesh/platform/grpc-server";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { createLogger } from "@shopmesh/platform/logger";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";

/** Payment tokens the fake gateway understands. */
export const TOKENS = {
  ok: "tok_visa_ok",
  declined: "tok_card_declined",
  /** Never answers within any deadline, then charges successfully (a late success). */
  hang: "tok_hangs_then_charges",
} as const;

/** A catalog variant the fake serves. */
export interface FakeVariant {
  id: string;
  productId: string;
  priceMinor: number;
  currency: string;
  weightGrams: number;
  purchasable: boolean;
}

function impl<S extends DescService>(service: S, methods: Record<string, unknown>): ServiceImpl<S> {
  const all: Record<string, unknown> = {};
  for (const m of service.methods) {
    all[m.localName] =
      methods[m.localName] ??
      (() => {
        throw new ServiceError(Code.UNIMPLEMENTED, `${m.name} is not faked`);
      });
  }
  return all as ServiceImpl<S>;
}

/**
 * In-process stand-ins for catalog, inventory, payment and shipping that keep just enough
 * state to check the saga's effects (stock held, money taken and returned, shipments), with
 * switches to make a step fail. They answer like the real contracts (REJECTED and FAILED are
 * normal answers; calls are idempotent per order or key).
 */
export async function startFakePeers() {
  const variants = new Map<string, FakeVariant>();
  const stock = new Map<string, number>();
  const reservations = new Map<
    string,
    { lines: { variantId: string; quantity: number }[]; status: ReservationStatus }
  >();
  const payments = new Map<
    string,
    {
      id: string;
      orderId: string;
      amount: bigint;
      currency: string;
      status: PaymentStatus;
      refunded: bigint;
      declineCode: DeclineCode;
    }
  >();
  const shipments = new Map<string, { id: string; orderId: string; status: ShipmentStatus }>();
  const calls: string[] = [];
  const switches = {
    inventoryDown: false,
    inventoryHangs: false,
    /** Every shipping call answers UNAVAILABLE. */
    shippingDown: false,
    /** How many of the next CommitReservation calls answer UNAVAILABLE. */
    commitsFailing: 0,
    /** How long each CommitReservation takes to answer. */
    commitDelayMs: 0,
  };

  const payment = (id: string) => {
    const p = [...payments.values()].find((x) => x.id === id);
    if (!p) throw new NotFoundError(`payment ${id} not found`);
    return p;
  };
  const paymentMessage = (p: NonNullable<ReturnType<typeof payments.get>>) => ({
    id: p.id,
    orderId: p.orderId,
    amount: { currencyCode: p.currency, amountMinor: p.amount },
    status: p.status,
    refundedAmount: { currencyCode: p.currency, amountMinor: p.refunded },
    method: { brand: 1, last4: "4242", expMonth: 12, expYear: 2030 },
    ...(p.status === PaymentStatus.FAILED
      ? { failure: { code: p.declineCode, message: "declined" } }
      : {}),
  });
  const reservationMessage = (orderId: string) => {
    const r = reservations.get(orderId)!;
    return { id: `res-${orderId}`, orderId, lines: r.lines, status: r.status };
  };
  const shipmentMessage = (s: { id: string; orderId: string; status: ShipmentStatus }) => ({
    id: s.id,
    orderId: s.orderId,
    carrierCode: "mockship",
    carrierName: "MockShip",
    trackingNumber: `MS-${s.id.slice(-8)}`,
    status: s.status,
    createdAt: timestampNow(),
    events: [
      {
        status: ShipmentStatus.LABEL_CREATED,
        description: "Label created",
        occurredAt: timestampNow(),
      },
    ],
  });

  const server = createGrpcServer({ logger: createLogger("fake-peers", "silent") });
  server.addService(
    CatalogService,
    impl(CatalogService, {
      batchGetVariants: (req: { variantIds: string[] }) => ({
        variants: req.variantIds.flatMap((id) => {
          const v = variants.get(id);
          if (!v) return [];
          return [
            {
              variant: {
                id,
                productId: v.productId,
                sku: `SKU-${id.slice(-6)}`,
                price: { currencyCode: v.currency, amountMinor: BigInt(v.priceMinor) },
                weightGrams: v.weightGrams,
                active: v.purchasable,
              },
              product: { id: v.productId, name: `Product ${v.productId.slice(-4)}`, active: true },
              purchasable: v.purchasable,
            },
          ];
        }),
        missingVariantIds: req.variantIds.filter((id) => !variants.has(id)),
      }),
    }),
  );
  server.addService(
    InventoryService,
    impl(InventoryService, {
      checkStock: async (req: { lines: { variantId: string; quantity: number }[] }) => {
        if (switches.inventoryDown) throw new UnavailableError("inventory is down");
        if (switches.inventoryHangs) await sleep(30_000, undefined, { ref: false });
        const results = req.lines.map((l) => {
          const available = stock.get(l.variantId);
          const availability =
            available === undefined
              ? Availability.UNKNOWN_VARIANT
              : available >= l.quantity
                ? available - l.quantity <= 2
                  ? Availability.LOW_STOCK
                  : Availability.IN_STOCK
                : available > 0
                  ? Availability.INSUFFICIENT
                  : Availability.OUT_OF_STOCK;
          return {
            variantId: l.variantId,
            requested: l.quantity,
            available: available ?? 0,
            availability,
          };
        });
        return {
          results,
          allAvailable: results.every(
            (r) =>
              r.availability === Availability.IN_STOCK || r.availability === Availability.LOW_STOCK,
          ),
        };
      },
      reserveStock: (req: {
        orderId: string;
        lines: { variantId: string; quantity: number }[];
      }) => {
        calls.push(`reserve:${req.orderId}`);
        if (switches.inventoryDown) throw new UnavailableError("inventory is down");
        if (!reservations.has(req.orderId)) {
          const short = req.lines.filter((l) => (stock.get(l.variantId) ?? 0) < l.quantity);
          if (short.length === 0)
            for (const l of req.lines) stock.set(l.variantId, stock.get(l.variantId)! - l.quantity);
          reservations.set(req.orderId, {
            lines: req.lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity })),
            status: short.length ? ReservationStatus.REJECTED : ReservationStatus.RESERVED,
          });
        }
        return { reservation: reservationMessage(req.orderId) };
      },
      releaseReservation: (req: { orderId: string }) => {
        calls.push(`release:${req.orderId}`);
        const r = reservations.get(req.orderId);
        if (!r) return {};
        if (r.status === ReservationStatus.RESERVED || r.status === ReservationStatus.COMMITTED) {
          for (const l of r.lines)
            stock.set(l.variantId, (stock.get(l.variantId) ?? 0) + l.quantity);
          r.status = ReservationStatus.RELEASED;
        }
        return { reservation: reservationMessage(req.orderId) };
      },
      commitReservation: async (req: { orderId: string }) => {
        calls.push(`commit:${req.orderId}`);
        if (switches.commitDelayMs > 0) await sleep(switches.commitDelayMs);
        if (switches.commitsFailing > 0) {
          switches.commitsFailing--;
          throw new UnavailableError("inventory is down");
        }
        const r = reservations.get(req.orderId);
        if (
          !r ||
          (r.status !== ReservationStatus.RESERVED && r.status !== ReservationStatus.COMMITTED)
        ) {
          throw new FailedPreconditionError(`reservation of order ${req.orderId} is not held`);
        }
        r.status = ReservationStatus.COMMITTED;
        return { reservation: reservationMessage(req.orderId) };
      },
    }),
  );
  server.addService(
    PaymentService,
    impl(PaymentService, {
      charge: async (req: {
        orderId: string;
        amount: { currencyCode: string; amountMinor: bigint };
        paymentMethodToken: string;
        idempotencyKey: string;
      }) => {
        calls.push(`charge:${req.orderId}`);
        let p = payments.get(req.idempotencyKey);
        if (!p) {
          p = {
            id: uuidv7(),
            orderId: req.orderId,
            amount: req.amount.amountMinor,
            currency: req.amount.currencyCode,
            status: PaymentStatus.PENDING,
            refunded: 0n,
            declineCode: DeclineCode.UNSPECIFIED,
          };
          payments.set(req.idempotencyKey, p);
          if (req.paymentMethodToken === TOKENS.hang) {
            // The gateway takes far longer than any deadline, then the money is taken anyway.
            const pending = p;
            setTimeout(() => {
              pending.status = PaymentStatus.SUCCEEDED;
            }, 4_000).unref();
            await sleep(60_000, undefined, { ref: false });
          } else if (req.paymentMethodToken === TOKENS.declined) {
            p.status = PaymentStatus.FAILED;
            p.declineCode = DeclineCode.CARD_DECLINED;
          } else {
            p.status = PaymentStatus.SUCCEEDED;
          }
        }
        return { payment: paymentMessage(p) };
      },
      refund: (req: { paymentId: string; idempotencyKey: string }) => {
        calls.push(`refund:${req.paymentId}`);
        const p = payment(req.paymentId);
        if (p.status === PaymentStatus.SUCCEEDED) {
          p.refunded = p.amount;
          p.status = PaymentStatus.REFUNDED;
        } else if (p.status !== PaymentStatus.REFUNDED) {
          throw new FailedPreconditionError(`payment ${p.id} did not succeed`);
        }
        return {
          payment: paymentMessage(p),
          refund: { id: `ref-${p.id}`, idempotencyKey: req.idempotencyKey },
        };
      },
      getPayment: (req: { paymentId: string }) => ({
        payment: paymentMessage(payment(req.paymentId)),
      }),
      getPaymentByOrder: (req: { orderId: string }) => {
        const p = [...payments.values()].find((x) => x.orderId === req.orderId);
        if (!p) throw new NotFoundError(`order ${req.orderId} was never charged`);
        return { payment: paymentMessage(p) };
      },
    }),
  );
  server.addService(
    ShippingService,
    impl(ShippingService, {
      quote: (req: { currencyCode: string; serviceLevel: ServiceLevel }) => ({
        options: [
          {
            carrierCode: "mockship",
            carrierName: "MockShip",
            serviceLevel: ServiceLevel.STANDARD,
            price: { currencyCode: req.currencyCode, amountMinor: 499n },
          },
          {
            carrierCode: "mockship",
            carrierName: "MockShip",
            serviceLevel: ServiceLevel.EXPRESS,
            price: { currencyCode: req.currencyCode, amountMinor: 1299n },
          },
        ].filter((o) => !req.serviceLevel || o.serviceLevel === req.serviceLevel),
      }),
      createShipment: (req: { orderId: string }) => {
        calls.push(`ship:${req.orderId}`);
        if (switches.shippingDown) throw new UnavailableError("shipping is down");
        let s = shipments.get(req.orderId);
        const created = !s;
        if (!s) {
          s = { id: uuidv7(), orderId: req.orderId, status: ShipmentStatus.LABEL_CREATED };
          shipments.set(req.orderId, s);
        }
        return { shipment: shipmentMessage(s), created };
      },
      cancelShipment: (req: { orderId: string }) => {
        if (switches.shippingDown) throw new UnavailableError("shipping is down");
        calls.push(`cancel-shipment:${req.orderId}`);
        const s = shipments.get(req.orderId);
        if (!s) return {};
        s.status = ShipmentStatus.CANCELLED;
        return { shipment: shipmentMessage(s) };
      },
      getShipmentByOrder: (req: { orderId: string }) => {
        const s = shipments.get(req.orderId);
        if (!s) throw new NotFoundError(`order ${req.orderId} has no shipment`);
        return { shipment: shipmentMessage(s) };
      },
    }),
  );
  const port = await server.listen("127.0.0.1:0");

  return {
    address: `127.0.0.1:${port}`,
    variants,
    stock,
    reservations,
    payments: () => [...payments.values()],
    shipments,
    calls,
    switches,
    /** Adds a purchasable variant with `onHand` units in stock. */
    addVariant(v: Partial<FakeVariant> & { priceMinor: number }, onHand = 100): FakeVariant {
      const variant: FakeVariant = {
        id: uuidv7(),
        productId: uuidv7(),
        currency: "USD",
        weightGrams: 500,
        purchasable: true,
        ...v,
      };
      variants.set(variant.id, variant);
      stock.set(variant.id, onHand);
      return variant;
    },
    close: () => server.drain(1_000),
  };
}

/** The running fakes. */
export type FakePeers = Awaited<ReturnType<typeof startFakePeers>>;
