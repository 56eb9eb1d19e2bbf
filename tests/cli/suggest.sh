#!/usr/bin/env bash
# Did-you-mean: a mistyped command or verb is answered with the nearest one
# (exit 2, nothing run); a word near none lists them; what was typed is shown
# sanitized.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

fresh
osvm mpc list
check_exit "a mistyped command exits 2" 2
check_contains "and says which one was meant" 'no such command "mpc"; did you mean "mcp"?' "$ERR"
check_eq "nothing is printed on stdout" "" "$OUT"
check_eq "and nothing is written" "no" "$([ -e "$OSVM_HOME" ] && echo yes || echo no)"

osvm docter
check_contains "doctor" 'did you mean "doctor"?' "$ERR"
osvm isolaton show
check_contains "isolation, one letter left out" 'did you mean "isolation"?' "$ERR"
osvm iso show
check_contains "a command's beginning names it" 'did you mean "isolation"?' "$ERR"
osvm help stauts
check_exit "help of a mistyped command exits 2" 2
check_contains "and says which one was meant" 'did you mean "status"?' "$ERR"

osvm banana
check_exit "a word near no command exits 2" 2
check_contains "and points at the list" "'osvm --help' lists them" "$ERR"
check_not_contains "without a guess" "did you mean" "$ERR"

osvm mcp lsit
check_exit "a mistyped verb exits 2" 2
check_contains "and says which one was meant" 'unknown verb "lsit"; did you mean "list"?' "$ERR"
check_contains "with the command's help to try" "Try 'osvm help mcp'." "$ERR"
osvm isolation explian osvm-mcp/get_slot
check_contains "isolation explain" 'did you mean "explain"?' "$ERR"
osvm config path
check_contains "config paths" 'did you mean "paths"?' "$ERR"
osvm mcp frobnicate
check_contains "a verb near none lists the verbs" "the verbs are: add, remove" "$ERR"

osvm "$(printf 'm\033]0;owned\007cp')"
check_exit "a command with control bytes exits 2" 2
check_not_contains "its control bytes do not reach the terminal" "$(printf '\033')" "$ERR"
check_contains "they are shown instead" 'm^[]0;owned^Gcp' "$ERR"
osvm mcp "$(printf 'li\033[2Jst')"
check_not_contains "nor a verb's" "$(printf '\033')" "$ERR"

osvm completion bsh
check_exit "a mistyped shell exits 2" 2
check_contains "and says which one was meant" 'did you mean "bash"?' "$ERR"
finish
