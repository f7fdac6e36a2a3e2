import { create, type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import type { PackageDefinition, ProtobufTypeDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { healthFileDescriptor } from "./health.ts";

/**
 * The `.proto` files that define `services`, with every file they import (transitively:
 * well-known types, buf/validate, google/api), dependencies first as protoc orders them. The
 * descriptors come from the generated protobuf-es code, so reflection always describes exactly
 * the contract that was compiled in.
 */
export function fileDescriptors(services: readonly DescService[]): FileDescriptorProto[] {
  const files: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    files.push(file);
  };
  for (const service of services) visit(service.file);
  return files.map((file) => file.proto);
}

/** The same files as a serialized `google.protobuf.FileDescriptorSet` (`buf build -o` format). */
export function fileDescriptorSet(services: readonly DescService[]): Uint8Array {
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: fileDescriptors(services) }),
  );
}

/**
 * Adds gRPC server reflection (v1 and v1alpha) describing `services` and `grpc.health.v1.Health`,
 * so stock clients (`buf curl`, grpcurl, Postman) can list and call methods without the protos.
 * Health is included because those clients resolve the health method's schema by reflection too.
 *
 * @grpc/reflection only reads each entry's `fileDescriptorProtos`, so the entries carry the exact
 * protobuf-es descriptor bytes. Going through proto-loader's `loadFileDescriptorSetFromBuffer`
 * instead would rebuild the files with protobufjs, which merges files per package and rewrites
 * type references as relative names that `buf curl` fails to resolve.
 */
export function addReflection(server: Server, services: readonly DescService[]): void {
  const files = [...fileDescriptors(services), healthFileDescriptor()];
  const packageDefinition: Record<string, ProtobufTypeDefinition> = {};
  for (const file of files) {
    const bytes = toBinary(FileDescriptorProtoSchema, file);
    packageDefinition[file.name] = {
      format: "Protocol Buffer 3 FileDescriptorProto", // only the bytes below are read
      type: file,
      fileDescriptorProtos: [Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
    };
  }
  new ReflectionService(packageDefinition as PackageDefinition).addToServer(server);
}
