#!/bin/bash
# get_balance isolated (a VM per call) against direct (a host process), one
# run, against the local SVM endpoint (tests/svm/rpc_server.mjs).
# usage: bench/solana.sh [N]
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory -s build/osvm build/bench/bench_solana >/dev/null
. tests/svm/lib.bash
svm_start || { echo "bench/solana.sh: $SVM_WHY" >&2; exit 1; }
trap svm_stop EXIT
svm_rpc osvmTestKeypair '[{"lamports": 1500000000}]'
addr=$(svm_get 'r["address"]')
OSVM_SOLANA_RPC=$SVM_URL build/bench/bench_solana "$PWD/build/unikernels" "$addr" "${1:-200}"
