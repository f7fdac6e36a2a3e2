#!/usr/bin/env bash
# Copies the third-party .proto files shopmesh builds against into third_party/proto (a Buf
# module of its own). Nothing is fetched from a Buf registry: google/api comes from the
# google-proto-files npm package, buf/validate from the protovalidate jar on Maven Central
# (the only registry package that ships validate.proto as source). Re-run after bumping either.
set -euo pipefail
cd "$(dirname "$0")/.."
out=third_party/proto
PROTOVALIDATE_VERSION=${PROTOVALIDATE_VERSION:-1.1.0}
GOOGLE_PROTO_FILES_VERSION=${GOOGLE_PROTO_FILES_VERSION:-5.0.3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "vendor: google-proto-files@$GOOGLE_PROTO_FILES_VERSION (npm)"
(cd "$tmp" && npm pack --silent "google-proto-files@$GOOGLE_PROTO_FILES_VERSION" >/dev/null && tar xzf google-proto-files-*.tgz)
mkdir -p "$out/google/api"
for f in annotations http field_behavior; do
  cp "$tmp/package/google/api/$f.proto" "$out/google/api/$f.proto"
done

echo "vendor: build.buf:protovalidate:$PROTOVALIDATE_VERSION (Maven Central)"
mvn -q dependency:copy -Dartifact="build.buf:protovalidate:$PROTOVALIDATE_VERSION" -DoutputDirectory="$tmp" >/dev/null
mkdir -p "$out/buf/validate"
unzip -o -q -j "$tmp/protovalidate-$PROTOVALIDATE_VERSION.jar" buf/validate/validate.proto -d "$out/buf/validate"

echo "vendor: done -> $out"
