#!/usr/bin/env bash
# docs/osvm.1, the manual page: it renders without warnings, and it tells of
# every command, verb and option that osvm has, and of the chat's commands.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

MAN=$ROOT/docs/osvm.1
plain() { sed 's/.\x08//g'; } # overstruck bold and underline as plain text
fresh
if ! command -v groff >/dev/null; then
        skip "the manual page" "groff is not installed (Debian: groff-base)"
        finish
        exit
fi
warnings=$(groff -ww -z -man "$MAN" 2>&1)
check_eq "groff -ww reads it without a warning" "" "$warnings"
warnings=$(LC_ALL=C groff -ww -z -man "$MAN" 2>&1)
check_eq "in the C locale too" "" "$warnings"
if command -v mandoc >/dev/null; then
        lint=$(mandoc -T lint -W warning "$MAN" 2>&1)
        check_eq "mandoc -T lint finds nothing" "" "$lint"
fi
if command -v man >/dev/null; then
        text=$(MANWIDTH=80 man --warnings -l "$MAN" 2>"$T/man.err" | plain)
        check_eq "man -l renders it without a warning" "" "$(cat "$T/man.err")"
else
        text=$(groff -man -Tutf8 "$MAN" 2>/dev/null | plain)
fi
check_contains "it has a synopsis" "SYNOPSIS" "$text"
for section in OPTIONS COMMANDS "THE CHAT" ENVIRONMENT FILES "EXIT STATUS" EXAMPLES; do
        check_contains "a section $section" "$section" "$text"
done
flat=$(printf '%s\n' "$text" | tr -s ' \n' '  ')

# every command, as osvm --help lists them, and every verb, as the completion knows them
osvm --help
cmds=$(printf '%s\n' "$OUT" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
missing=""
for c in $cmds; do
        case "$flat" in *"osvm $c"*) ;; *) missing="$missing $c" ;; esac
done
check_eq "every command is in it" "" "$missing"
opts=$(printf '%s\n' "$OUT" | sed -n '/^Options:/,/^$/p' | grep -oE '(^| )-(-[a-z][a-z-]*|[a-zA-Z])\b' |
        sort -u)
missing=""
for o in $opts; do
        case "$flat" in *"$o"*) ;; *) missing="$missing $o" ;; esac
done
check_eq "every option of osvm --help is in it" "" "$missing"
osvm completion bash
verbs=$(printf '%s\n' "$OUT" | sed -n "s/^ *\([a-z]*\):) _osvm_verbs='\(.*\)' ;;$/\1 \2/p")
missing=""
while read -r cmd vs; do
        for v in $vs; do
                case "$flat" in *"osvm $cmd $v"*) ;; *) missing="$missing $cmd/$v" ;; esac
        done
done <<<"$verbs"
check_eq "every verb is in it" "" "$missing"
check_match "(and there are verbs to look for)" "mcp add" "$verbs"
for c in /help /tools /status /exit; do
        check_contains "the chat's $c" "$c" "$text"
done
osvm --version
check_contains "the version is the program's" "$OUT" "$text"
finish
