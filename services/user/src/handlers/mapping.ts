import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PostalAddress } from "@shopmesh/gen/shopmesh/common/v1/address_pb.js";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import {
  type AddressSchema,
  type PaymentMethodSchema,
  Role,
  UserSchema as UserMessage,
  type UserSchema,
  UserStatus,
} from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import type { RoleName, StatusName } from "../domain/account.ts";
import type { AddressRecord, PostalFields } from "../store/addresses.ts";
import type { PaymentMethodRecord } from "../store/payment-methods.ts";
import type { UserRecord } from "../store/users.ts";

const ROLE_TO_PROTO: Record<RoleName, Role> = { customer: Role.CUSTOMER, admin: Role.ADMIN };
const STATUS_TO_PROTO: Record<StatusName, UserStatus> = {
  active: UserStatus.ACTIVE,
  locked: UserStatus.LOCKED,
  suspended: UserStatus.SUSPENDED,
};

/** Stored role names as proto enum values. */
export function rolesToProto(roles: readonly RoleName[]): Role[] {
  return roles.map((r) => ROLE_TO_PROTO[r]);
}

/** A proto role as stored (callers validated it is defined and not UNSPECIFIED). */
export function roleFromProto(role: Role): RoleName | undefined {
  return role === Role.ADMIN ? "admin" : role === Role.CUSTOMER ? "customer" : undefined;
}

/** A stored status as the proto enum. */
export function statusToProto(status: StatusName): UserStatus {
  return STATUS_TO_PROTO[status];
}

/** A proto status as stored; undefined for UNSPECIFIED. */
export function statusFromProto(status: UserStatus): StatusName | undefined {
  const entry = Object.entries(STATUS_TO_PROTO).find(([, v]) => v === status);
  return entry?.[0] as StatusName | undefined;
}

/** An account as the contract's User message (never the password hash). */
export function userToProto(user: UserRecord): MessageInitShape<typeof UserSchema> {
  return create(UserMessage, {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    name: user.name,
    phone: user.phone,
    roles: rolesToProto(user.roles),
    status: statusToProto(user.status),
    createdAt: timestampFromDate(user.createdAt),
    updatedAt: timestampFromDate(user.updatedAt),
  });
}

/** The contract's PostalAddress as columns. */
export function postalFromProto(p: PostalAddress): PostalFields {
  return {
    fullName: p.fullName,
    line1: p.line1,
    line2: p.line2,
    city: p.city,
    region: p.region,
    postalCode: p.postalCode,
    countryCode: p.countryCode,
    phone: p.phone,
  };
}

/** A saved address as the contract's Address message. */
export function addressToProto(a: AddressRecord): MessageInitShape<typeof AddressSchema> {
  return {
    id: a.id,
    label: a.label,
    postalAddress: {
      fullName: a.fullName,
      line1: a.line1,
      line2: a.line2,
      city: a.city,
      region: a.region,
      postalCode: a.postalCode,
      countryCode: a.countryCode,
      phone: a.phone,
    },
    isDefault: a.isDefault,
    createdAt: timestampFromDate(a.createdAt),
    updatedAt: timestampFromDate(a.updatedAt),
  };
}

/** A card brand as stored ("visa"). */
export function brandToName(brand: CardBrand): string {
  return (CardBrand[brand] ?? "OTHER").toLowerCase();
}

/** A stored brand name as the proto enum. */
export function brandFromName(name: string): CardBrand {
  const value = (CardBrand as unknown as Record<string, CardBrand>)[name.toUpperCase()];
  return typeof value === "number" ? value : CardBrand.OTHER;
}

/** A saved card as the user may see it: no token. */
export function paymentMethodToProto(
  m: PaymentMethodRecord,
): MessageInitShape<typeof PaymentMethodSchema> {
  return {
    id: m.id,
    card: cardSummary(m),
    isDefault: m.isDefault,
    createdAt: timestampFromDate(m.createdAt),
  };
}

/** Brand, last four and expiry of a saved card. */
export function cardSummary(m: PaymentMethodRecord) {
  return {
    brand: brandFromName(m.brand),
    last4: m.last4,
    expMonth: m.expMonth,
    expYear: m.expYear,
  };
}
