#!/usr/bin/env bash
# Builds the libFuzzer harness with AddressSanitizer and runs it.
#
#     bash Tests/Fuzz/run.sh [RUNS]          # default 200000 executions
#
# The kernels are compiled as their own module (as SwiftPM builds them), then the library's
# sources and FuzzEntryPoints.swift as one module, with the C support target's object and a
# module map for its header.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-200000}"
out="${TMPDIR:-/tmp}/hpm-fuzz"
mkdir -p "$out/corpus"
cp "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
support="$root/Sources/CHardPixelMiningSupport"
printf 'module CHardPixelMiningSupport {\n  header "%s"\n  export *\n}\n' \
  "$support/include/HardPixelMiningSupport.h" > "$out/module.modulemap"
clang -O2 -fsanitize=address -I "$support/include" -c "$support/HardPixelMiningSupport.c" -o "$out/support.o"
swiftc -sanitize=fuzzer,address -parse-as-library -module-name HardPixelMiningKernels -package-name HardPixelMining -O \
  -wmo -Xcc -fmodule-map-file="$out/module.modulemap" -emit-module -emit-module-path "$out/HardPixelMiningKernels.swiftmodule" \
  -c $(find "$root/Sources/HardPixelMiningKernels" -name '*.swift') -o "$out/kernels.o"
swiftc -sanitize=fuzzer,address -parse-as-library -module-name HardPixelMining -package-name HardPixelMining -O \
  -I "$out" -Xcc -fmodule-map-file="$out/module.modulemap" \
  $(find "$root/Sources/HardPixelMining" -name '*.swift') "$here/FuzzEntryPoints.swift" "$out/kernels.o" "$out/support.o" \
  -o "$out/fuzz-hardpixelmining"
# The Swift runtime's backtracer trips AddressSanitizer when a property check traps; off.
# An allocation the system refuses must reach the library as NULL (a typed error), as it
# does without AddressSanitizer, so the sanitizer's allocator returns NULL too.
ASAN_OPTIONS="allocator_may_return_null=1:${ASAN_OPTIONS:-}" SWIFT_BACKTRACE=enable=no \
  "$out/fuzz-hardpixelmining" -runs="$runs" -max_len=4096 -artifact_prefix="$out/" "$out/corpus"
