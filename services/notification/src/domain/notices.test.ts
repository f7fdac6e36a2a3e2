import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ShipmentStatusUpdatedSchema } from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { UserProfileUpdatedSchema } from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { NotificationType } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { ShipmentStatus } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { formatMoney, onShipmentStatusUpdated, onUserProfileUpdated } from "./notices.ts";

test("formats minor units by the currency's own decimals", () => {
  assert.equal(formatMoney({ currencyCode: "USD", amountMinor: 2599n } as never), "$25.99");
  assert.equal(formatMoney({ currencyCode: "JPY", amountMinor: 1200n } as never), "¥1,200");
});

test("only out-for-delivery and exceptions of a shipment are worth an e-mail", () => {
  const update = (status: ShipmentStatus) =>
    onShipmentStatusUpdated(
      create(ShipmentStatusUpdatedSchema, { userId: "u", orderId: "o", status }),
    );
  assert.equal(update(ShipmentStatus.IN_TRANSIT).notices.length, 0);
  assert.equal(update(ShipmentStatus.DELIVERED).notices.length, 0);
  assert.equal(
    update(ShipmentStatus.OUT_FOR_DELIVERY).notices[0]?.type,
    NotificationType.SHIPMENT_UPDATE,
  );
  assert.equal(update(ShipmentStatus.EXCEPTION).notices.length, 1);
});

test("a profile update always refreshes the address, but only user-made changes send ACCOUNT_CHANGED", () => {
  const updated = (changedFields: string[]) =>
    onUserProfileUpdated(
      create(UserProfileUpdatedSchema, { userId: "u", email: "a@b.c", name: "A", changedFields }),
    );
  const verified = updated(["email_verified"]);
  assert.deepEqual(verified.recipients, [{ userId: "u", email: "a@b.c", name: "A" }]);
  assert.equal(verified.notices.length, 0);
  const password = updated(["password"]);
  assert.equal(password.notices[0]?.type, NotificationType.ACCOUNT_CHANGED);
  assert.deepEqual(password.notices[0]?.data.changedFields, ["password"]);
});
