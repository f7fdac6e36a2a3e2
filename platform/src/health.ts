import { create } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";

/**
 * The service's `grpc.health.v1.Health` endpoint, answered by grpc-health-check so Kubernetes
 * gRPC probes, grpc-health-probe and `buf curl` work unchanged. It reports one status for the
 * whole server ("") and for each served service name; they move together.
 */
export interface Health {
  /** Registers `grpc.health.v1.Health` on the grpc-js server. */
  addToServer(server: Server): void;
  /** Reports SERVING: called once the server listens. */
  setServing(): void;
  /** Reports NOT_SERVING: the first step of shutdown, so balancers stop sending new calls. */
  setNotServing(): void;
  /** Whether the last status set was SERVING; backs the HTTP `/readyz` probe. */
  isServing(): boolean;
}

/** Creates the health endpoint for `serviceNames` (fully-qualified), starting NOT_SERVING. */
export function createHealth(serviceNames: readonly string[]): Health {
  const names = ["", ...serviceNames];
  const implementation = new HealthImplementation(
    Object.fromEntries(names.map((name) => [name, "NOT_SERVING"])),
  );
  let current: ServingStatus = "NOT_SERVING";
  const setAll = (status: ServingStatus) => {
    current = status;
    for (const name of names) implementation.setStatus(name, status);
  };
  return {
    addToServer: (server) => implementation.addToServer(server),
    setServing: () => setAll("SERVING"),
    setNotServing: () => setAll("NOT_SERVING"),
    isServing: () => current === "SERVING",
  };
}

/**
 * The descriptor of `grpc/health/v1/health.proto`, for reflection. Written out here because
 * shopmesh generates no code for it (grpc-health-check serves it) and converting the package's
 * `.proto` through protobufjs yields relative type names that Go clients such as `buf curl`
 * cannot resolve. The file is frozen upstream, so this never drifts.
 */
export function healthFileDescriptor(): FileDescriptorProto {
  const pkg = ".grpc.health.v1";
  const field = (name: string, number: number, type: Type, typeName?: string) => ({
    name,
    number,
    jsonName: name,
    label: Label.OPTIONAL,
    type,
    ...(typeName ? { typeName: `${pkg}.${typeName}` } : {}),
  });
  return create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [
          {
            ...field("statuses", 1, Type.MESSAGE, "HealthListResponse.StatusesEntry"),
            label: Label.REPEATED,
          },
        ],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [
              field("key", 1, Type.STRING),
              field("value", 2, Type.MESSAGE, "HealthCheckResponse"),
            ],
            options: { mapEntry: true },
          },
        ],
      },
      { name: "HealthCheckRequest", field: [field("service", 1, Type.STRING)] },
      {
        name: "HealthCheckResponse",
        field: [field("status", 1, Type.ENUM, "HealthCheckResponse.ServingStatus")],
        enumType: [
          {
            name: "ServingStatus",
            value: ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"].map((name, number) => ({
              name,
              number,
            })),
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          {
            name: "Check",
            inputType: `${pkg}.HealthCheckRequest`,
            outputType: `${pkg}.HealthCheckResponse`,
          },
          {
            name: "Watch",
            inputType: `${pkg}.HealthCheckRequest`,
            outputType: `${pkg}.HealthCheckResponse`,
            serverStreaming: true,
          },
          {
            name: "List",
            inputType: `${pkg}.HealthListRequest`,
            outputType: `${pkg}.HealthListResponse`,
          },
        ],
      },
    ],
  });
}
