#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test target, then the
# table's concurrency test and the reverse-DNS tests again under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
swift build --build-tests
swift test --skip-build
# The lock-free table must be race-free by TSan's standard, not only by its exact counts; so must
# the resolver's thread and its callers.
swift test --sanitize=thread --filter 'SourceTableConcurrencyTests|ReverseDNSTests'
