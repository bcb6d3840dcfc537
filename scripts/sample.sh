#!/usr/bin/env bash
# The main job on the bundled sample capture: installs what is missing, builds scantap in
# release mode and reads samples/lab-sample.pcap (real nmap scans made by lab/make-sample.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product scantap
exec .build/release/scantap read "$@" samples/lab-sample.pcap
