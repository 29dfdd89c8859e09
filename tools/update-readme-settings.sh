#!/usr/bin/env bash
# Regenerates the settings table in README.md from the one settings table in the code
# (`farsight settings --markdown`), and the definitions of the statistics in
# docs/ARCHITECTURE.md (`farsight settings --stats --markdown`).  tests/test_docs.sh fails when they disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FARSIGHT_BIN:-build/farsight}
table=$("$BIN" settings --markdown)
awk -v table="$table" '
	/<!-- settings:begin -->/ { print; print table; skip = 1; next }
	/<!-- settings:end -->/ { skip = 0 }
	!skip { print }
' README.md > README.md.tmp && mv README.md.tmp README.md
# ... and the definitions of the counts in docs/ARCHITECTURE.md
table=$("$BIN" settings --stats --markdown)
awk -v table="$table" '
	/<!-- stats:begin -->/ { print; print table; skip = 1; next }
	/<!-- stats:end -->/ { skip = 0 }
	!skip { print }
' docs/ARCHITECTURE.md > docs/ARCHITECTURE.md.tmp && mv docs/ARCHITECTURE.md.tmp docs/ARCHITECTURE.md
