/*
 * `osvm completion bash|zsh|fish`: the shell completion script. What it
 * completes is read from the command table: the commands and their
 * aliases, and from each command's usage lines its verbs, their options
 * (and which take a value) and what their first operand is: a server
 * (NAME, SERVER), a file (FILE, IMAGE), a command, or literal words. Server
 * names come from `osvm mcp list` when completed.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The options main() takes before a command; tests/cli/completion.sh checks
 * them against `osvm --help`. */
static const char global_opts[] = "-p --prompt --json --no-microvm --require-isolation -v "
                                  "--verbose -vv -q --quiet -h --help -V --version";
static const char global_value_opts[] = "-p --prompt";

#define VERBS_MAX 16

/* One verb of a command ("" for a command without verbs). */
struct comp_verb {
        char name[32];
        strbuf opts;  /* "--json --help" */
        strbuf vopts; /* the options that take a value */
        strbuf args;  /* the first operand: words, @servers, @files, @commands */
};

struct comp_cmd {
        const char *name, *alias;
        size_t n;
        struct comp_verb v[VERBS_MAX];
        strbuf verbs; /* "add remove ..." */
};

static bool has_word(const strbuf *b, const char *w, size_t len)
{
        for (const char *p = b->s; p && *p;) {
                size_t k = strcspn(p, " ");
                if (k == len && !strncmp(p, w, len))
                        return true;
                p += k + (p[k] == ' ');
        }
        return false;
}

static void add_word(strbuf *b, const char *w, size_t len)
{
        if (len && !has_word(b, w, len))
                sb_addf(b, "%s%.*s", b->len ? " " : "", (int)len, w);
}

static bool is_verb(const char *t)
{
        if (!islower((unsigned char)t[0]))
                return false;
        for (const char *p = t; *p; p++)
                if (!islower((unsigned char)*p) && *p != '-')
                        return false;
        return true;
}

static struct comp_verb *verb_of(struct comp_cmd *c, const char *name)
{
        for (size_t i = 0; i < c->n; i++)
                if (!strcmp(c->v[i].name, name))
                        return &c->v[i];
        if (c->n == VERBS_MAX)
                return NULL;
        struct comp_verb *v = &c->v[c->n++];
        memset(v, 0, sizeof(*v));
        snprintf(v->name, sizeof(v->name), "%s", name);
        if (*name)
                add_word(&c->verbs, name, strlen(name));
        add_word(&v->opts, "--help", 6);
        return v;
}

/* What a first operand's placeholder asks for: "NAME|URL", "[SERVER[/TOOL]]",
 * "FILE", "bash|zsh|fish". */
static void add_operand(struct comp_verb *v, const char *verb, const char *t)
{
        for (const char *p = t; *p;) {
                p += strspn(p, "[]|'\"");
                size_t k = strcspn(p, "[]|/'\".");
                if (!k) {
                        p += *p ? 1 : 0;
                        continue;
                }
                char alt[32];
                snprintf(alt, sizeof(alt), "%.*s", (int)(k < 31 ? k : 31), p);
                p += k;
                /* 'add' names a new server: the registered ones are not candidates */
                if (!strcmp(alt, "NAME") || !strcmp(alt, "SERVER")) {
                        if (strcmp(verb, "add") != 0)
                                add_word(&v->args, "@servers", 8);
                } else if (!strcmp(alt, "FILE") || !strcmp(alt, "IMAGE"))
                        add_word(&v->args, "@files", 6);
                else if (!strcmp(alt, "SUBCOMMAND") || !strcmp(alt, "COMMAND"))
                        add_word(&v->args, "@commands", 9);
                else if (is_verb(alt))
                        add_word(&v->args, alt, strlen(alt));
                /* other placeholders (URL, TOOL, ...): nothing to offer */
        }
}

/* One usage line, "osvm CMD [VERB] ARGS...", with its continuation lines. */
static void parse_usage(struct comp_cmd *c, char *line)
{
        char *save = NULL;
        char *tok[64];
        size_t n = 0;
        for (char *t = strtok_r(line, " \t\n", &save); t && n < 64;
             t = strtok_r(NULL, " \t\n", &save))
                tok[n++] = t;
        if (n < 2 || strcmp(tok[0], "osvm") != 0)
                return;
        size_t i = 2;
        const char *verb = "";
        if (i < n && is_verb(tok[i]))
                verb = tok[i++];
        struct comp_verb *v = verb_of(c, verb);
        if (!v)
                return;
        bool operand_seen = false, in_quote = false, value_next = false;
        for (; i < n; i++) {
                const char *t = tok[i];
                if (in_quote) { /* 'Name: value' */
                        in_quote = !strchr(t, '\'');
                        continue;
                }
                const char *opt = strstr(t, "--");
                if (opt && isalpha((unsigned char)opt[2])) {
                        size_t k = 2 + strspn(opt + 2, "abcdefghijklmnopqrstuvwxyz-");
                        add_word(&v->opts, opt, k);
                        /* "[--mem MB]": the next word is its value */
                        value_next = !strchr(t, ']') && i + 1 < n && tok[i + 1][0] != '[' &&
                                     strncmp(tok[i + 1], "--", 2) != 0;
                        if (value_next)
                                add_word(&v->vopts, opt, k);
                        continue;
                }
                if (value_next) {
                        value_next = false;
                        in_quote = t[0] == '\'' && !strchr(t + 1, '\'');
                        continue;
                }
                if (!operand_seen && strcmp(t, "--") != 0 && strcmp(t, "|") != 0) {
                        operand_seen = true;
                        add_operand(v, verb, t);
                }
        }
}

static void parse_cmd(struct comp_cmd *c, const struct cli_cmd *cmd)
{
        memset(c, 0, sizeof(*c));
        c->name = cmd->name;
        c->alias = cmd->alias;
        /* the usage block: from "usage:" to the first empty line; a line that
         * does not start with "osvm" continues the one before */
        _cleanup_free_ char *help = xstrdup(cmd->help);
        char *end = strstr(help, "\n\n");
        if (end)
                end[1] = '\0';
        char *body = strstr(help, "usage:");
        if (!body)
                return;
        body += 6;
        strbuf one = {0};
        for (char *line = body; *line;) {
                size_t k = strcspn(line, "\n");
                char *l = line + strspn(line, " \t");
                if (!strncmp(l, "osvm ", 5) && one.len) {
                        parse_usage(c, one.s);
                        one.len = 0;
                        one.s[0] = '\0';
                }
                sb_addn(&one, line, k);
                sb_add(&one, " ");
                line += k + (line[k] == '\n');
        }
        if (one.len)
                parse_usage(c, one.s);
        sb_free(&one);
        if (c->n == 0) /* no usage line to read: a command without verbs */
                verb_of(c, "");
}

static void free_cmd(struct comp_cmd *c)
{
        for (size_t i = 0; i < c->n; i++) {
                sb_free(&c->v[i].opts);
                sb_free(&c->v[i].vopts);
                sb_free(&c->v[i].args);
        }
        sb_free(&c->verbs);
}

/* ---- the table, in sh (bash and zsh) and in fish ---- */

static void print_sh_table(const struct comp_cmd *cmds, size_t n, const char *names)
{
        printf("_osvm_table() {\n"
               "        case $_osvm_cmd in\n");
        for (size_t i = 0; i < n; i++)
                if (cmds[i].alias)
                        printf("        %s) _osvm_cmd=%s ;;\n", cmds[i].alias, cmds[i].name);
        printf("        esac\n"
               "        _osvm_verbs= _osvm_opts= _osvm_vopts= _osvm_args=\n"
               "        case $_osvm_cmd:$_osvm_verb in\n");
        for (size_t i = 0; i < n; i++) {
                const struct comp_cmd *c = &cmds[i];
                if (c->verbs.len)
                        printf("        %s:) _osvm_verbs='%s' ;;\n", c->name, c->verbs.s);
                for (size_t k = 0; k < c->n; k++) {
                        const struct comp_verb *v = &c->v[k];
                        if (!*v->name && c->verbs.len)
                                continue;
                        printf(
                            "        %s:%s) _osvm_opts='%s' _osvm_vopts='%s' _osvm_args='%s' ;;\n",
                            c->name, v->name, v->opts.s ? v->opts.s : "",
                            v->vopts.s ? v->vopts.s : "", v->args.s ? v->args.s : "");
                }
        }
        printf(
            "        esac\n"
            "        case \" $_osvm_args \" in *' @commands '*) _osvm_args=\"$_osvm_args %s\" ;; "
            "esac\n"
            "}\n\n",
            names);
}

/*
 * The words before the cursor ($1 is osvm itself) set _osvm_words to what
 * may come next, or _osvm_files=1 for a file name. Shared by bash and zsh.
 */
static const char sh_find[] =
    "_osvm_find() {\n"
    "        local cur=$1 w skip= npos=0 bin=$2\n"
    "        shift 2\n"
    "        _osvm_cmd= _osvm_verb= _osvm_words= _osvm_files=\n"
    "        _osvm_verbs= _osvm_opts= _osvm_vopts= _osvm_args=\n"
    "        for w in \"$@\"; do\n"
    "                if [ -n \"$skip\" ]; then skip=; continue; fi\n"
    "                if [ -z \"$_osvm_cmd\" ]; then\n"
    "                        case \" $_osvm_gvopts \" in *\" $w \"*) skip=1; continue ;; esac\n"
    "                        case $w in -*) ;; *) _osvm_cmd=$w; _osvm_table ;; esac\n"
    "                        continue\n"
    "                fi\n"
    "                case \" $_osvm_vopts \" in *\" $w \"*) skip=1; continue ;; esac\n"
    "                case $w in -*) continue ;; esac\n"
    "                if [ -n \"$_osvm_verbs\" ] && [ -z \"$_osvm_verb\" ]; then\n"
    "                        _osvm_verb=$w; _osvm_table; continue\n"
    "                fi\n"
    "                npos=$((npos + 1))\n"
    "        done\n"
    "        [ -n \"$skip\" ] && return 0 # an option's value\n"
    "        if [ -z \"$_osvm_cmd\" ]; then\n"
    "                case $cur in -*) _osvm_words=$_osvm_gopts ;; *) _osvm_words=$_osvm_cmds ;; "
    "esac\n"
    "        elif [ -n \"$_osvm_verbs\" ] && [ -z \"$_osvm_verb\" ]; then\n"
    "                case $cur in -*) _osvm_words=--help ;; *) _osvm_words=$_osvm_verbs ;; esac\n"
    "        else\n"
    "                case $cur in\n"
    "                -*) _osvm_words=$_osvm_opts ;;\n"
    "                *)\n"
    "                        [ \"$npos\" -eq 0 ] || return 0\n"
    "                        case \" $_osvm_args \" in *' @files '*) _osvm_files=1 ;; esac\n"
    "                        case \" $_osvm_args \" in *' @servers '*)\n"
    "                                case $bin in */*) [ -x \"$bin\" ] || bin=osvm ;; *) bin=osvm "
    ";; esac\n"
    "                                _osvm_words=$(\"$bin\" mcp list 2>/dev/null |\n"
    "                                        awk '$2 == \"stdio\" || $2 == \"http\" { print $1 "
    "}')\n"
    "                                ;;\n"
    "                        esac\n"
    "                        for w in $(echo \"$_osvm_args\"); do\n"
    "                                case $w in @*) ;; *) _osvm_words=\"$_osvm_words $w\" ;; esac\n"
    "                        done\n"
    "                        ;;\n"
    "                esac\n"
    "        fi\n"
    "}\n\n";

static void print_sh_head(const char *shell, const char *names)
{
        printf("# %s completion for osvm %s, made by 'osvm completion %s'.\n", shell, OSVM_VERSION,
               shell);
        printf("_osvm_cmds='%s'\n_osvm_gopts='%s'\n_osvm_gvopts='%s'\n\n", names, global_opts,
               global_value_opts);
}

static void print_bash(const struct comp_cmd *cmds, size_t n, const char *names)
{
        print_sh_head("bash", names);
        print_sh_table(cmds, n, names);
        fputs(sh_find, stdout);
        printf("_osvm() {\n"
               "        local cur=${COMP_WORDS[COMP_CWORD]}\n"
               "        _osvm_find \"$cur\" \"${COMP_WORDS[@]:0:COMP_CWORD}\"\n"
               "        COMPREPLY=()\n"
               "        if [ -n \"$_osvm_files\" ]; then\n"
               "                compopt -o filenames 2>/dev/null\n"
               "                COMPREPLY=($(compgen -f -- \"$cur\"))\n"
               "        fi\n"
               "        COMPREPLY+=($(compgen -W \"$_osvm_words\" -- \"$cur\"))\n"
               "}\n"
               "complete -F _osvm osvm\n");
}

static void print_zsh(const struct comp_cmd *cmds, size_t n, const char *names)
{
        printf("#compdef osvm\n");
        print_sh_head("zsh", names);
        print_sh_table(cmds, n, names);
        fputs(sh_find, stdout);
        printf("_osvm() {\n"
               "        local cur=${words[CURRENT]}\n"
               "        _osvm_find \"$cur\" \"${(@)words[1,CURRENT-1]}\"\n"
               "        [ -n \"$_osvm_files\" ] && _files\n"
               "        [ -n \"$_osvm_words\" ] && compadd -- ${=_osvm_words}\n"
               "        return 0\n"
               "}\n"
               "if [ \"$funcstack[1]\" = _osvm ]; then\n"
               "        _osvm \"$@\"\n"
               "else\n"
               "        compdef _osvm osvm\n"
               "fi\n");
}

static void fish_list(const char *var, const char *words)
{
        printf("set -g -- %s %s\n", var, words && *words ? words : "");
}

static void print_fish(const struct comp_cmd *cmds, size_t n, const char *names)
{
        printf("# fish completion for osvm %s, made by 'osvm completion fish'.\n", OSVM_VERSION);
        printf("function __osvm_table\n"
               "    switch $__osvm_cmd\n");
        for (size_t i = 0; i < n; i++)
                if (cmds[i].alias)
                        printf("        case %s\n            set -g __osvm_cmd %s\n", cmds[i].alias,
                               cmds[i].name);
        printf("    end\n"
               "    set -g __osvm_verbs\n    set -g __osvm_opts\n    set -g __osvm_vopts\n"
               "    set -g __osvm_args\n"
               "    switch \"$__osvm_cmd:$__osvm_verb\"\n");
        for (size_t i = 0; i < n; i++) {
                const struct comp_cmd *c = &cmds[i];
                if (c->verbs.len) {
                        printf("        case '%s:'\n            ", c->name);
                        fish_list("__osvm_verbs", c->verbs.s);
                }
                for (size_t k = 0; k < c->n; k++) {
                        const struct comp_verb *v = &c->v[k];
                        if (!*v->name && c->verbs.len)
                                continue;
                        printf("        case '%s:%s'\n            ", c->name, v->name);
                        fish_list("__osvm_opts", v->opts.s);
                        printf("            ");
                        fish_list("__osvm_vopts", v->vopts.s);
                        printf("            ");
                        fish_list("__osvm_args", v->args.s);
                }
        }
        printf("    end\n"
               "    contains -- @commands $__osvm_args; and set -a __osvm_args %s\n"
               "end\n\n",
               names);
        printf(
            "function __osvm_complete\n"
            "    set -l tokens (commandline -opc)\n"
            "    set -l cur (commandline -ct)\n"
            "    set -g __osvm_cmd\n    set -g __osvm_verb\n    set -g __osvm_verbs\n"
            "    set -g __osvm_opts\n    set -g __osvm_vopts\n    set -g __osvm_args\n"
            "    set -l skip 0\n    set -l npos 0\n"
            "    set -l bin $tokens[1]\n    set -e tokens[1]\n"
            "    for w in $tokens\n"
            "        if test $skip = 1\n            set skip 0\n            continue\n        end\n"
            "        if test -z \"$__osvm_cmd\"\n"
            "            if contains -- $w %s\n                set skip 1\n"
            "            else if not string match -q -- '-*' $w\n"
            "                set -g __osvm_cmd $w\n                __osvm_table\n            end\n"
            "            continue\n"
            "        end\n"
            "        if contains -- $w $__osvm_vopts\n            set skip 1\n            "
            "continue\n"
            "        end\n"
            "        string match -q -- '-*' $w; and continue\n"
            "        if test -n \"$__osvm_verbs\"; and test -z \"$__osvm_verb\"\n"
            "            set -g __osvm_verb $w\n            __osvm_table\n            continue\n"
            "        end\n"
            "        set npos (math $npos + 1)\n"
            "    end\n"
            "    test $skip = 1; and return\n"
            "    if test -z \"$__osvm_cmd\"\n"
            "        if string match -q -- '-*' $cur\n            printf '%%s\\n' %s\n"
            "        else\n            printf '%%s\\n' %s\n        end\n"
            "    else if test -n \"$__osvm_verbs\"; and test -z \"$__osvm_verb\"\n"
            "        printf '%%s\\n' $__osvm_verbs\n"
            "    else if string match -q -- '-*' $cur\n"
            "        printf '%%s\\n' $__osvm_opts\n"
            "    else if test $npos = 0\n"
            "        for a in $__osvm_args\n"
            "            switch $a\n"
            "                case @files\n                    __fish_complete_path $cur\n"
            "                case @servers\n"
            "                    string match -q -- '*/*' $bin; and not test -x $bin; and set "
            "bin osvm\n"
            "                    $bin mcp list 2>/dev/null | awk '$2 == \"stdio\" || $2 == "
            "\"http\" { print $1 }'\n"
            "                case '@*'\n"
            "                case '*'\n                    printf '%%s\\n' $a\n"
            "            end\n"
            "        end\n"
            "    end\n"
            "end\n\n"
            "complete -c osvm -f -a '(__osvm_complete)'\n",
            global_value_opts, global_opts, names);
}

static int run_completion(int argc, char **argv)
{
        if (argc != 2)
                return cli_usage_error(&cli_cmd_completion, "give one shell: bash, zsh or fish");
        static const char *const shells[] = {"bash", "zsh", "fish"};
        const char *shell = argv[1];
        size_t which = 0;
        while (which < 3 && strcmp(shells[which], shell) != 0)
                which++;
        if (which == 3) {
                const char *near = ui_nearest(shell, shells, 3);
                _cleanup_free_ char *s = text_sanitize(shell, 0);
                return near ? cli_usage_error(&cli_cmd_completion,
                                              "no completion for \"%s\"; did you mean \"%s\"?", s,
                                              near)
                            : cli_usage_error(&cli_cmd_completion,
                                              "no completion for \"%s\": bash, zsh or fish", s);
        }
        size_t n;
        const struct cli_cmd *const *table = cli_commands(&n);
        struct comp_cmd *cmds = xcalloc(n, sizeof(*cmds));
        strbuf names = {0};
        for (size_t i = 0; i < n; i++) {
                parse_cmd(&cmds[i], table[i]);
                add_word(&names, table[i]->name, strlen(table[i]->name));
                if (table[i]->alias)
                        add_word(&names, table[i]->alias, strlen(table[i]->alias));
        }
        if (which == 0)
                print_bash(cmds, n, names.s);
        else if (which == 1)
                print_zsh(cmds, n, names.s);
        else
                print_fish(cmds, n, names.s);
        for (size_t i = 0; i < n; i++)
                free_cmd(&cmds[i]);
        free(cmds);
        sb_free(&names);
        return OSVM_EXIT_OK;
}

const struct cli_cmd cli_cmd_completion = {
    .name = "completion",
    .summary = "print the shell completion script for bash, zsh or fish",
    .help = "usage: osvm completion bash|zsh|fish\n"
            "\n"
            "Prints the script that completes osvm's commands, verbs and options in the\n"
            "shell, and the registered servers' names where a command takes one (read\n"
            "from 'osvm mcp list' when completed). 'make install' installs the three\n"
            "where the shells look; to try one in the shell you are in:\n"
            "\n"
            "  bash   source <(osvm completion bash)\n"
            "  zsh    source <(osvm completion zsh)\n"
            "  fish   osvm completion fish | source\n"
            "\n"
            "or write it where your shell loads completions from:\n"
            "\n"
            "  bash   ~/.local/share/bash-completion/completions/osvm\n"
            "  zsh    a directory in $fpath, as _osvm\n"
            "  fish   ~/.config/fish/completions/osvm.fish\n",
    .run = run_completion,
};
