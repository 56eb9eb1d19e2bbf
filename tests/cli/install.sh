#!/usr/bin/env bash
# `make install` into a staging directory: the installed osvm finds its tool
# pack and μVM-1's agent under PREFIX/lib/osvm/unikernels, without root and
# without a build tree; the shell completions and the manual page go under
# PREFIX/share; `make uninstall` takes every file away again.
# tests/run.sh: also with OSVM_NO_KVM=1 where KVM is usable (the installed agent in μVM-1 or not).
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

fresh
DEST=$T/stage
if ! make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/opt/osvm >"$T/make.log" 2>&1; then
        fail "make install into a staging directory" "$(tail -5 "$T/make.log")"
        finish
        exit
fi
pass "make install into a staging directory"
OSVM=$DEST/opt/osvm/bin/osvm
check_eq "the command is installed, executable" "yes" "$([ -x "$OSVM" ] && echo yes)"
count=$(ls "$DEST"/opt/osvm/lib/osvm/unikernels/osvm-mcp-*.img | wc -l)
check_eq "the eleven tool images are installed" 11 "$count"
check_eq "the images are executable (direct mode runs them)" 755 \
        "$(mode_of "$DEST/opt/osvm/lib/osvm/unikernels/osvm-mcp-get_slot.img")"

unset OSVM_BUILTIN_IMAGES
osvm isolation explain osvm-mcp/get_slot
check_contains "the installed osvm finds its pack" \
        "Using the built-in image: $DEST/opt/osvm/lib/osvm/unikernels/osvm-mcp-get_slot.img" "$OUT"
osvm mcp list
check_contains "osvm-mcp is registered without being added" "osvm-mcp" "$OUT"
osvm mcp tools osvm-mcp
check_eq "its tools are listed" 11 "$(printf '%s\n' "$OUT" | grep -c '^osvm-mcp/')"
check_eq "the agent's image for μVM-1 is installed" 755 \
        "$(mode_of "$DEST/opt/osvm/lib/osvm/unikernels/osvm-agent.img")"
if kvm_probe; then
        unset OSVM_AGENT_IMAGE
        osvm -p "get the version" --json
        check_contains "the installed osvm runs the agent inside μVM-1" '1μVMs' "$OUT"
fi
osvm isolation set use_builtin_images=false
osvm isolation explain osvm-mcp/get_slot
check_eq "use_builtin_images=false: back to the five-line trace (then what is not enforced)" \
        "WARN: Falling back to direct MCP execution" "$(printf '%s\n' "$OUT" | tail -n 2 | head -n 1)"

# the shell completions and the manual, where the shells and man look
SHARE=$DEST/opt/osvm/share
for f in bash-completion/completions/osvm zsh/site-functions/_osvm \
        fish/vendor_completions.d/osvm.fish man/man1/osvm.1; do
        check_eq "$f is installed, mode 644" 644 "$(mode_of "$SHARE/$f" 2>/dev/null)"
done
osvm completion bash
check_file_is "the bash completion is the command's own" "$OUT
" "$SHARE/bash-completion/completions/osvm"
check_eq "it loads and completes from where it is installed" "doctor" \
        "$(bash --norc --noprofile -c 'source "$1"; COMP_WORDS=(osvm doc); COMP_CWORD=1; _osvm
                echo "${COMPREPLY[*]}"' _ "$SHARE/bash-completion/completions/osvm" 2>&1)"
if command -v man >/dev/null; then
        check_contains "the manual page is found under PREFIX/share/man" "osvm doctor" \
                "$(MANPATH=$SHARE/man MANWIDTH=80 man osvm 2>&1 | sed 's/.\x08//g')"
fi

if ! make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/opt/osvm >"$T/make.log" 2>&1; then
        fail "make uninstall" "$(tail -5 "$T/make.log")"
else
        pass "make uninstall"
        check_eq "it removes every file it installed" "" "$(find "$DEST" -type f)"
fi
finish
