#!/usr/bin/env bash
# Installs the Debian packages farsight needs on a fresh machine (run as root).
#   tools/install-deps.sh        build, test and bench dependencies (what CI needs)
#   tools/install-deps.sh --dev  also the tools that regenerate committed artefacts
#                                (PyTorch reference vectors)
set -euo pipefail
PKGS=(
	build-essential      # gcc, make
	libjemalloc-dev      # the preload shim's allocator for far-memory arenas
	liblz4-dev libzstd-dev # the zmem backend's compressors
	libhiredis-dev       # the redis backend's client
	libsodium-dev        # SHA-256 and HMAC of the memd handshake
	redis-server         # the redis backend's tests start their own servers on loopback
	liblemon-dev         # mcf workload: LEMON NetworkSimplex
	libglpk-dev          # mcf workload: GLPK's netgen instance generator
	libigraph-dev        # cross-checks of the graph workloads
	xgboost              # xgboost workload (the CLI)
	libxgboost-dev       # xgboost workload (the C API)
	gnuplot-nox          # bench plots
	clang                # libFuzzer fuzz target of the memory server
	libclang-rt-14-dev   # libFuzzer runtime
	sqlite3              # preload test: an unmodified program under far memory
	python3              # preload test: an unmodified program under far memory
	procps util-linux iproute2 # ps, taskset, ip netns for tests
	git                  # fork test: git clone and gc under far memory
	redis-server redis-tools # fork test: BGSAVE (a forked child writes the dump)
	busybox-static       # test: a static binary gets one line saying why it has no far memory
)
DEV_PKGS=(python3-torch python3-numpy libopenblas-dev)
if [ "${1:-}" = "--dev" ]; then PKGS+=("${DEV_PKGS[@]}"); fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all ${#PKGS[@]} packages present"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
