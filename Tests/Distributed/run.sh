#!/usr/bin/env bash
# Builds the Open MPI checks and runs them on 1, 2, 3 and 4 ranks; installs Debian's Open MPI
# when mpirun is missing (CI runs as root).
#
#     bash Tests/Distributed/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v mpirun > /dev/null || ! pkg-config --exists ompi-c; then
  apt-get install -y -q libopenmpi-dev openmpi-bin > /dev/null \
    || { apt-get update -q > /dev/null && apt-get install -y -q libopenmpi-dev openmpi-bin > /dev/null; }
fi
cd "$here"
swift build -c release
for ranks in 1 2 3 4; do
  out="$(mpirun --allow-run-as-root --oversubscribe -n "$ranks" .build/release/hpm-distributed-check)"
  echo "$out"
  echo "$out" | grep -q "passed, 0 failed"
done
