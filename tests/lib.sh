# tests/lib.sh - sourced by the shell tests that run programs under `farsight run`:
# goes to the repository root, sets BUILD and FARSIGHT_BIN, and skips (exit 0) under a
# sanitizer build, whose preload library cannot be preloaded into uninstrumented
# programs (their own sanitizer runs cover the library through the C tests).
cd "$(dirname "${BASH_SOURCE[1]}")/.." || exit 1
BUILD=${BUILD:-build}
case "$BUILD" in *san*)
	echo "skip: a sanitizer build of the preload library cannot be preloaded into uninstrumented programs"
	exit 0 ;;
esac
FARSIGHT_BIN=${FARSIGHT_BIN:-$PWD/$BUILD/farsight}
