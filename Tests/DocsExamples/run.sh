#!/usr/bin/env bash
# Compiles and runs every ```swift block of README.md and Docs/*.md alone, as a user pastes it:
# each block, verbatim, is the main.swift of its own executable in a fresh package that
# depends on this package by path (one build for all of them). Prints "N passed, M failed".
#
#     bash Tests/DocsExamples/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${TMPDIR:-/tmp}/hpm-docs-examples"
rm -rf "$out/Sources" "$out/Package.swift"
mkdir -p "$out/Sources"

targets=()
cd "$root"
for page in README.md Docs/*.md; do
  stem=$(echo "$page" | sed 's/[^A-Za-z0-9]/_/g')
  # One folder per block: Sources/<page>_<k>/main.swift.
  awk -v dir="$out/Sources" -v stem="$stem" '
    /^```swift[ \t]*$/ { k++; name = stem "_" k; system("mkdir -p \"" dir "/" name "\""); file = dir "/" name "/main.swift"; inside = 1; next }
    inside && /^```[ \t]*$/ { inside = 0; close(file); next }
    inside { print > file }
  ' "$page"
done
for d in "$out"/Sources/*/; do targets+=("$(basename "$d")"); done
if [ ${#targets[@]} -eq 0 ]; then echo "no Swift blocks found"; exit 1; fi

# A path dependency is named by its folder.
library="$(basename "$root")"
{
  echo '// swift-tools-version: 6.1'
  echo 'import PackageDescription'
  echo 'let package = Package('
  echo '    name: "DocsExamples",'
  echo "    dependencies: [.package(path: \"$root\")],"
  echo '    targets: ['
  for t in "${targets[@]}"; do
    echo "        .executableTarget(name: \"$t\", dependencies: [.product(name: \"HardPixelMining\", package: \"$library\")]),"
  done
  echo '    ]'
  echo ')'
} > "$out/Package.swift"

swift build --package-path "$out" --scratch-path "$out/.build" 2>&1 | grep -E "error|warning: .*main.swift" || true
passed=0
failed=0
for t in "${targets[@]}"; do
  binary="$out/.build/debug/$t"
  if [ -x "$binary" ] && "$binary" > "$out/$t.log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $t (Sources/$t/main.swift)"
    [ -f "$out/$t.log" ] && tail -5 "$out/$t.log"
  fi
done

# What must not compile, with the message a user should read: Float16 logits with a Float
# gradient buffer (the diagnostic names the gradient and the pairs, not `logits`).
negative="$out/negative"
mkdir -p "$negative/Sources/Mismatch"
cat > "$negative/Package.swift" <<PACKAGE
// swift-tools-version: 6.1
import PackageDescription
let package = Package(name: "Negative", dependencies: [.package(path: "$root")],
    targets: [.executableTarget(name: "Mismatch", dependencies: [.product(name: "HardPixelMining", package: "$library")])])
PACKAGE
cat > "$negative/Sources/Mismatch/main.swift" <<'SWIFT'
import HardPixelMining
let shape = BatchShape(images: 1, classes: 2, height: 1, width: 1)
let logits: [Float16] = [0, 1]
var gradient = [Float](repeating: 0, count: 2)
_ = try LabelSmoothedCrossEntropy().evaluate(logits: logits, labels: [0], shape: shape, gradient: &gradient)
SWIFT
if swift build --package-path "$negative" --scratch-path "$negative/.build" > "$out/negative.log" 2>&1; then
  failed=$((failed + 1)); echo "FAILED: mismatched logit and gradient types compiled"
elif grep -q "the gradient has the logits' element type" "$out/negative.log"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); echo "FAILED: mismatched types rejected without the message"; grep error "$out/negative.log" | head -3
fi
echo "Docs examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
