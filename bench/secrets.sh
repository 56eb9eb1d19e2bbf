#!/usr/bin/env bash
# bench_secrets with a CA and an endpoint certificate (for 127.0.0.1) made
# here: an HTTPS GET with a secret's placeholder through osvm's terminating
# proxy against the same GET straight to the same local endpoint.
# usage: bench/secrets.sh [ROUNDS]   (from the source tree; builds the bench)
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory build/bench/bench_secrets >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(
        cd "$dir"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
                -out ca.pem -days 2 -subj "/CN=osvm bench CA"
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
                -out srv.csr -subj "/CN=localhost"
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
                -days 2 -extfile ext.cnf
) >/dev/null 2>&1
build/bench/bench_secrets "$dir/srv.pem" "$dir/srv.key" "$dir/ca.pem" "${1:-200}"
