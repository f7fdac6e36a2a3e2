import {
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The HTTP/2 path of an RPC, `/package.Service/Method`, as every gRPC implementation spells it. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Serializes messages of `schema` to the Buffer grpc-js writes, without copying the bytes. */
export function serializer(schema: DescMessage) {
  return (message: Parameters<typeof toBinary>[1]): Buffer => {
    const bytes = toBinary(schema, message);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/** Parses messages of `schema` from the bytes grpc-js received. */
export function deserializer(schema: DescMessage) {
  return (bytes: Buffer) => fromBinary(schema, bytes);
}

/**
 * Builds the grpc-js service definition of a protobuf-es service descriptor: paths, streaming
 * flags and protobuf-es (de)serializers. Because it comes from the generated descriptor, there
 * is no hand-written definition to drift from the `.proto`. Memoised: the server and every client
 * of a service share one definition.
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  let definition = definitions.get(service);
  if (!definition) {
    const methods: Record<string, MethodDefinition<unknown, unknown>> = {};
    for (const method of service.methods) {
      const methodDefinition: MethodDefinition<unknown, unknown> = {
        path: methodPath(method),
        requestStream:
          method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream:
          method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
        requestDeserialize: deserializer(method.input),
        responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
        responseDeserialize: deserializer(method.output),
        originalName: method.localName,
      };
      methods[method.localName] = methodDefinition;
    }
    definition = methods;
    definitions.set(service, definition);
  }
  return definition;
}

const definitions = new WeakMap<DescService, ServiceDefinition>();
