#!/bin/bash
# osvm's own files are never a guest's: where a mount holds osvm's
# configuration or state folder (here a home mounted read-write, holding
# both), a guest neither reads, lists into, writes, cuts nor removes what is
# in them, by their path or through a link; the rest of the mount is the
# guest's as granted. On every platform this host has.
set -u
. "$(dirname "$0")/lib.bash"
platforms=$(vmm_platforms) || exit 1
need_busybox
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
home=$tmp/home
export HOME=$home OSVM_HOME=$home/.config/osvm XDG_STATE_HOME=$home/.local/state
export OSVM_SECRETS_FILE=$home/work/secrets.json # a secrets file put elsewhere

suite() {
        local plat=$1 out
        rm -rf "$home"
        mkdir -p "$OSVM_HOME" "$XDG_STATE_HOME/osvm" "$home/work"
        printf '{"servers":{}}\n' >"$OSVM_HOME/isolation_config.json"
        printf '{"secret":"hunter2"}\n' >"$XDG_STATE_HOME/osvm/secrets.json"
        printf 'mine\n' >"$home/work/notes.txt"
        printf '{"secret":"hunter2"}\n' >"$OSVM_SECRETS_FILE"
        ln -s ../.config/osvm/isolation_config.json "$home/work/link"
        ln -s ../.config/osvm "$home/work/dirlink"
        run() { $VMM_RUN --platform "$plat" --mount "$home:/h:rw" $BB "$@" </dev/null 2>&1; }

        out=$(run cat /h/work/notes.txt)
        [ "$out" = mine ] && ok "$plat: the rest of the mount is read" ||
                not_ok "$plat: the rest of the mount is read: $out"
        out=$(run sh -c 'echo more >>/h/work/notes.txt && echo done')
        [ "$out" = done ] && [ "$(cat "$home/work/notes.txt")" = "$(printf 'mine\nmore')" ] &&
                ok "$plat: and written" || not_ok "$plat: and written: $out"

        for f in /h/.config/osvm/isolation_config.json /h/.local/state/osvm/secrets.json \
                /h/work/secrets.json \
                /h/work/link /h/work/dirlink/isolation_config.json; do
                out=$(run cat "$f")
                case "$out" in
                *hunter2* | *servers*) not_ok "$plat: $f is read: $out" ;;
                *"No such file"*) ok "$plat: $f is not there" ;;
                *) not_ok "$plat: $f: unexpected: $out" ;;
                esac
        done
        out=$(run ls /h/.config/osvm)
        case "$out" in
        *isolation_config*) not_ok "$plat: osvm's folder is listed: $out" ;;
        *) ok "$plat: osvm's folder is not listed" ;;
        esac
        run sh -c 'echo x >/h/.config/osvm/ai.json; echo x >/h/work/dirlink/ai.json' >/dev/null
        [ ! -e "$OSVM_HOME/ai.json" ] && ok "$plat: no file is made in it, by path or link" ||
                not_ok "$plat: a file was made in osvm's folder"
        run sh -c ': >/h/.config/osvm/isolation_config.json; : >/h/work/link' >/dev/null
        [ -s "$OSVM_HOME/isolation_config.json" ] && ok "$plat: nor cut" ||
                not_ok "$plat: osvm's file was cut"
        $VMM_RUN --platform "$plat" --mount "$home:/h:rw" "$GUESTS/unlink" \
                /h/.local/state/osvm/secrets.json /h/work/secrets.json >/dev/null 2>&1
        [ -s "$XDG_STATE_HOME/osvm/secrets.json" ] && [ -s "$OSVM_SECRETS_FILE" ] &&
                ok "$plat: nor removed" || not_ok "$plat: osvm's file was removed"
        mkdir "$OSVM_HOME/empty"
        $VMM_RUN --platform "$plat" --mount "$home:/h:rw" "$GUESTS/unlink" /h/.config/osvm/empty/ \
                >/dev/null 2>&1
        [ -d "$OSVM_HOME/empty" ] && ok "$plat: nor a folder in it" ||
                not_ok "$plat: a folder in osvm's was removed"
}

for p in $platforms; do
        suite "$p"
done
vmm_done
