#!/usr/bin/env bash
# `osvm completion bash|zsh|fish`: each script loads in its shell (zsh and
# fish where installed), and completes the commands, verbs, options and the
# registered servers' names; what it offers is what osvm accepts.
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"

fresh
export OSVM_BUILTIN_IMAGES=$ROOT/build/unikernels
osvm mcp add alpha -- /bin/true
osvm mcp add beta --url http://127.0.0.1:9/mcp

for sh in bash zsh fish; do
        osvm completion "$sh"
        check_exit "completion $sh exits 0" 0
        cp "$T/out" "$T/osvm.$sh"
done
osvm completion
check_exit "completion without a shell exits 2" 2
osvm completion tcsh
check_exit "completion for another shell exits 2" 2

# ---- bash: the function driven through COMP_WORDS, as readline does ----
# complete WORDS...: the candidates for the last word (a space-separated list)
cat >"$T/drive.bash" <<'EOF'
source "$1"
shift
complete -p osvm
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_osvm
echo "${COMPREPLY[*]}"
EOF
words() { bash --norc --noprofile "$T/drive.bash" "$T/osvm.bash" "$@" 2>&1 | tail -n 1; }

check_eq "bash: the script registers _osvm for osvm" "complete -F _osvm osvm" \
        "$(bash --norc --noprofile "$T/drive.bash" "$T/osvm.bash" osvm "" 2>&1 | head -n 1)"
check_eq "the commands" "isolation mcp status unikernel uk doctor config completion audit secret help" \
        "$(words osvm "")"
check_eq "a command's beginning" "mcp" "$(words osvm m)"
check_eq "two commands begin with co" "config completion" "$(words osvm co)"
check_eq "the verbs of mcp" "add remove logout list import tools serve call" "$(words osvm mcp "")"
check_eq "the verbs of isolation that begin with s" "show set" "$(words osvm isolation s)"
check_eq "an alias's verbs" "run" "$(words osvm uk "")"
check_eq "a verb's options" "--help --timeout --json" "$(words osvm mcp call -)"
check_eq "the options before a command" \
        "-p --prompt --json --no-microvm --require-isolation -v --verbose -vv -q --quiet -h --help -V --version" \
        "$(words osvm -)"
check_eq "an option's value is not completed" "" "$(words osvm -p "")"
check_eq "after -p PROMPT, the commands" "doctor" "$(words osvm -p hi d)"
check_eq "the registered servers, from osvm mcp list" "alpha beta osvm-mcp" \
        "$(words "$OSVM" mcp tools "")"
check_eq "for isolation explain too" "alpha" "$(words "$OSVM" isolation explain al)"
check_eq "after --timeout MS, still the server" "alpha beta osvm-mcp" \
        "$(words "$OSVM" mcp call --timeout 100 "")"
check_eq "the tool after the server is not guessed" "" "$(words "$OSVM" mcp call alpha "")"
check_eq "mcp add takes a new name" "" "$(words "$OSVM" mcp add "")"
check_eq "mcp serve's servers" "alpha beta osvm-mcp" "$(words "$OSVM" mcp serve "")"
check_eq "the shells" "bash zsh fish" "$(words osvm completion "")"
check_eq "help's commands" "doctor" "$(words osvm help doc)"
mkdir -p "$T/files"
touch "$T/files/image-one" "$T/files/image-two"
check_eq "a file where one goes (uk run IMAGE)" "$T/files/image-one $T/files/image-two" \
        "$(words osvm uk run --mem 64 "$T/files/ima" | tr ' ' '\n' | sort | paste -sd ' ')"
check_eq "isolation validate FILE" "$T/files/image-one" "$(words osvm isolation validate "$T/files/image-o")"

# What the script offers is what osvm takes.
verbs_of() { # the verbs the script knows for a command ("" when it has none)
        bash --norc --noprofile -c 'source "$1"; _osvm_find "" osvm "$2"; echo "$_osvm_verbs"' \
                _ "$T/osvm.bash" "$1"
}
bad=""
for cmd in $(words osvm ""); do
        for verb in $(verbs_of "$cmd"); do
                osvm "$cmd" "$verb" --help
                [ "$RC" = 0 ] || bad="$bad $cmd/$verb/--help"
                osvm "$cmd" "$verb" --no-such-option-here
                case "$ERR" in *"unknown verb"*) bad="$bad $cmd $verb" ;; esac
        done
done
check_eq "every verb it offers is one osvm knows" "" "$bad"
check_eq "the commands with verbs" "isolation mcp unikernel uk config audit secret" \
        "$(for c in $(words osvm ""); do [ -n "$(verbs_of "$c")" ] && printf '%s ' "$c"; done |
                sed 's/ $//')"
missing=""
osvm --help
for opt in $(printf '%s\n' "$OUT" | grep -oE '(^| )-(-[a-z][a-z-]*|[a-zA-Z])\b' | sort -u); do
        case " $(words osvm -) " in *" $opt "*) ;; *) missing="$missing $opt" ;; esac
done
check_eq "every option of 'osvm --help' is offered" "" "$missing"

# ---- zsh: loads, registers _osvm, and finds the same words ----
if command -v zsh >/dev/null; then
        out=$(zsh -f -c 'autoload -U compinit && compinit -u -D
                source "$1"
                print -r -- "comp=${_comps[osvm]}"
                _osvm_find "" osvm mcp; print -r -- "verbs=$_osvm_words"
                _osvm_find "" "$2" mcp tools; print -r -- "servers=${(j: :)${(f)_osvm_words}}"
                _osvm_find "" osvm isolation validate; print -r -- "files=$_osvm_files"' \
                zsh "$T/osvm.zsh" "$OSVM" 2>&1)
        check_contains "zsh: the script loads and registers _osvm" "comp=_osvm" "$out"
        check_contains "zsh: the verbs of mcp" "verbs=add remove logout list import tools serve call" "$out"
        check_match "zsh: the registered servers" "^servers= *alpha beta osvm-mcp *$" "$out"
        check_contains "zsh: a file where one goes" "files=1" "$out"
        out=$(zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit && compinit -u -D
                print -r -- "comp=${_comps[osvm]}"' zsh "$(mkdir -p "$T/fpath" &&
                cp "$T/osvm.zsh" "$T/fpath/_osvm" && echo "$T/fpath")" 2>&1)
        check_contains "zsh: as _osvm in \$fpath, compinit finds it" "comp=_osvm" "$out"
else
        skip "zsh completion" "zsh is not installed (scripts/install-deps.sh installs it)"
fi

# ---- fish: loads, and complete -C gives the words ----
if command -v fish >/dev/null; then
        fishc() { fish --no-config -c "source $T/osvm.fish; complete -C '$1'" 2>&1 | tr '\n' ' ' |
                sed 's/ $//'; }
        check_eq "fish: the verbs of mcp" "add call import list logout remove serve tools" "$(fishc 'osvm mcp ')"
        check_eq "fish: an option" "--no-microvm" "$(fishc 'osvm --no')"
        check_eq "fish: the registered servers" "alpha beta osvm-mcp" "$(fishc "$OSVM mcp tools ")"
        check_eq "fish: an option's value is not completed" "" "$(fishc 'osvm mcp call --timeout ')"
        check_eq "fish: the shells" "bash fish zsh" "$(fishc 'osvm completion ')"
else
        skip "fish completion" "fish is not installed (scripts/install-deps.sh installs it)"
fi
finish
