#!/bin/sh
# The layers' arrows run downward: a file in src/LAYER/ (and below it) may
# include the headers of its own layer and of the layers before it in the
# order given, never one after it. Prints each include that points up.
# usage: scripts/check-layers.sh LAYER...   (lowest first, as the Makefile's LAYERS)
set -u
cd "$(dirname "$0")/.."
bad=0
rank=0
for layer in "$@"; do
        rank=$((rank + 1))
        eval "rank_$layer=$rank"
done
for layer in "$@"; do
        eval "own=\$rank_$layer"
        for f in $(find "src/$layer" -name '*.[ch]' | sort); do
                for inc in $(sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | sort -u); do
                        eval "r=\${rank_$inc:-0}"
                        if [ "$r" -gt "$own" ]; then
                                echo "$f includes $inc/, a layer above $layer" >&2
                                bad=1
                        fi
                done
        done
done
[ $bad = 0 ] && echo "layers: every include points down ($*)"
exit $bad
