#!/bin/bash
# Programs nobody here wrote run unchanged: Debian's busybox-static inside
# the engine gives byte for byte the output (and status) of the same busybox
# on the host, for applets over stdin and over files in a mount, on every
# platform this host has (the process platform always, KVM where usable).
set -u
. "$(dirname "$0")/lib.bash"
platforms=$(vmm_platforms) || exit 1
need_busybox
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
d=$tmp/d
mkdir -p "$d/sub"
printf '10\n2\n33\n1\n-4\nbanana\n2\n' >"$d/nums.txt"
seq 1 3000 >"$d/seq.txt"
head -c 200000 /dev/urandom >"$d/rand.bin"
echo inner >"$d/sub/x"
ln -s nums.txt "$d/link"
printf 'the quick brown fox\njumps over\nthe lazy dog\nthe end\n' >"$tmp/in.txt"

# same INPUT ARGS...: host busybox and guest busybox, stdout+stderr and status.
same() {
        local in=$1
        shift
        local h g
        h=$(cd "$d" && $BB "$@" <"$in" 2>&1; echo "status $?")
        g=$($RUN --mount "$d:/data" --cwd /data $BB "$@" <"$in" 2>&1; echo "status $?")
        if [ "$h" == "$g" ]; then
                ok "$plat: busybox $* ($(printf %s "$h" | wc -c) bytes identical)"
        else
                not_ok "$plat: busybox $*: host and guest differ"
                diff <(echo "$h") <(echo "$g") | head -10
        fi
}

suite() {
plat=$1
RUN=$(vmm_leg "$plat")
# over stdin
same "$tmp/in.txt" echo hello world
same "$tmp/in.txt" cat
same "$tmp/in.txt" sha256sum
same "$tmp/in.txt" md5sum
same "$tmp/in.txt" wc
same "$d/nums.txt" sort -n
same "$tmp/in.txt" tr a-z A-Z
same "$tmp/in.txt" base64
same "$tmp/in.txt" head -n 2
same "$tmp/in.txt" tail -n 2
same "$tmp/in.txt" rev
same "$d/nums.txt" uniq -c
same "$tmp/in.txt" sed s/the/THE/g
same "$tmp/in.txt" awk '{ n += NF } END { print n, NR }'
same "$tmp/in.txt" grep -c the
same "$d/rand.bin" od -An -tx1 -N64
same /dev/null false
# over files in the mount
same /dev/null cat nums.txt sub/x
same /dev/null sha256sum rand.bin seq.txt
same /dev/null md5sum rand.bin
same /dev/null wc nums.txt seq.txt rand.bin
same /dev/null sort -n nums.txt
same /dev/null head -n 5 seq.txt
same /dev/null base64 rand.bin
same /dev/null ls
same /dev/null ls -a sub
same /dev/null find .
same /dev/null cat link
same /dev/null du -s .
same /dev/null stat -c '%s %F' rand.bin sub link
same /dev/null cat missing-file
# a writable mount: files made in the guest are there on the host, the same bytes
rm -rf "$tmp/rw"
mkdir -p "$tmp/rw"
if $RUN --mount "$d:/in" --mount "$tmp/rw:/out:rw" $BB cp /in/rand.bin /out/copy.bin &&
        $RUN --mount "$tmp/rw:/out:rw" $BB mkdir /out/made &&
        cmp -s "$d/rand.bin" "$tmp/rw/copy.bin" && [ -d "$tmp/rw/made" ]; then
        ok "$plat: busybox cp and mkdir into a writable mount"
else
        not_ok "$plat: busybox cp and mkdir into a writable mount"
fi
}

for leg in $platforms; do
        suite "$leg"
        # the same, every call through patched sites where it can
        [ "$leg" = process ] && suite process-patched
done
vmm_done
