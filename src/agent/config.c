/*
 * Where the LLM is: the environment, else ai.json beside the isolation
 * config, else nowhere (the offline planner). The key is never logged.
 */
#include "agent/agent.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define AI_FILE            "ai.json"
#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_RETRIES    3u
#define DEFAULT_ROUNDS     8u
#define OPENAI_URL         "https://api.openai.com/v1"
#define ANTHROPIC_URL      "https://api.anthropic.com/v1"
#define OPENAI_MODEL       "gpt-4o-mini"
#define ANTHROPIC_MODEL    "claude-sonnet-4-5"

static const char *env(const char *name)
{
        const char *v = getenv(name);
        return v && *v ? v : NULL;
}

static void set(char **field, const char *value)
{
        if (!value)
                return;
        free(*field);
        *field = xstrdup(value);
}

/* The key goes into a header of every request: one that holds a line break would add
 * headers of its own. from names where it came from. */
static int key_ok(const char *key, const char *from, osvm_err *e)
{
        if (!key || text_header_value_ok(key))
                return 0;
        err_set(e, EINVAL,
                "%s: the API key holds a control character (a line break?), which cannot go in "
                "an HTTP header",
                from);
        e->exit = OSVM_EXIT_CONFIG;
        return -1;
}

static int file_error(osvm_err *e, const char *path, const char *field, const char *what)
{
        err_set(e, EINVAL, "%s: %s: %s", path, field, what);
        e->exit = OSVM_EXIT_CONFIG;
        return -1;
}

char *agent_ai_config_path(void)
{
        _cleanup_free_ char *dir = paths_config_dir();
        return xasprintf("%s/%s", dir, AI_FILE);
}

/* Reads ai.json when there is one. */
static int load_file(struct agent_ai_config *c, osvm_err *e)
{
        _cleanup_free_ char *path = agent_ai_config_path();
        struct stat st;
        if (stat(path, &st) < 0 && errno == ENOENT)
                return 0;
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (fs_read_file(path, 1 << 20, &text, &len, e) < 0) {
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(doc)) {
                json_decref(doc);
                err_set(e, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                        doc ? "expected a JSON object" : jerr.text);
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        static const char *const strings[] = {"provider", "url",         "model",
                                              "api_key",  "api_key_env", NULL};
        static const char *const numbers[] = {"timeout_ms", "max_retries", "max_rounds", NULL};
        int r = 0;
        const char *key;
        json_t *v;
        json_object_foreach(doc, key, v)
        {
                bool is_str = false, is_num = false;
                for (size_t i = 0; strings[i]; i++)
                        is_str |= !strcmp(key, strings[i]);
                for (size_t i = 0; numbers[i]; i++)
                        is_num |= !strcmp(key, numbers[i]);
                if (!is_str && !is_num) {
                        log_warn("%s: %s: unknown field (ignored)", path, key);
                } else if (is_str && !json_is_string(v)) {
                        r = file_error(e, path, key, "expected a string");
                        break;
                } else if (is_num && (!json_is_integer(v) || json_integer_value(v) < 1 ||
                                      json_integer_value(v) > 3600000)) {
                        r = file_error(e, path, key, "expected a positive integer");
                        break;
                }
        }
        if (r == 0) {
                set(&c->provider, json_string_value(json_object_get(doc, "provider")));
                set(&c->url, json_string_value(json_object_get(doc, "url")));
                set(&c->model, json_string_value(json_object_get(doc, "model")));
                set(&c->key, json_string_value(json_object_get(doc, "api_key")));
                _cleanup_free_ char *from = xasprintf("%s: api_key", path);
                r = key_ok(c->key, from, e);
                const char *key_env = json_string_value(json_object_get(doc, "api_key_env"));
                if (key_env && r == 0) {
                        set(&c->key, env(key_env));
                        _cleanup_free_ char *var = text_sanitize(key_env, 0);
                        _cleanup_free_ char *efrom =
                            xasprintf("%s (named by api_key_env in %s)", var, path);
                        r = key_ok(env(key_env), efrom, e);
                }
                json_t *n;
                if ((n = json_object_get(doc, "timeout_ms")))
                        c->timeout_ms = (uint32_t)json_integer_value(n);
                if ((n = json_object_get(doc, "max_retries")))
                        c->max_retries = (unsigned)json_integer_value(n);
                if ((n = json_object_get(doc, "max_rounds")))
                        c->max_rounds = (unsigned)json_integer_value(n);
                if (c->provider || c->url)
                        set(&c->source, path);
        }
        json_decref(doc);
        return r;
}

int agent_ai_config_load(struct agent_ai_config *c, osvm_err *e)
{
        memset(c, 0, sizeof(*c));
        c->timeout_ms = DEFAULT_TIMEOUT_MS;
        c->max_retries = DEFAULT_RETRIES;
        c->max_rounds = DEFAULT_ROUNDS;
        if (load_file(c, e) < 0)
                return -1;

        /* The environment wins over the file. */
        if (env("OSVM_AI_URL") || env("OSVM_AI_PROVIDER"))
                set(&c->source, "the environment (OSVM_AI_*)");
        set(&c->provider, env("OSVM_AI_PROVIDER"));
        set(&c->url, env("OSVM_AI_URL"));
        set(&c->model, env("OSVM_AI_MODEL"));
        set(&c->key, env("OSVM_AI_KEY"));
        if (key_ok(env("OSVM_AI_KEY"), "OSVM_AI_KEY", e) < 0)
                return -1;
        if (!c->url && !c->provider) {
                if (env("ANTHROPIC_API_KEY")) {
                        set(&c->provider, "anthropic");
                        set(&c->source, "ANTHROPIC_API_KEY");
                } else if (env("OPENAI_API_KEY")) {
                        set(&c->provider, "openai");
                        set(&c->source, "OPENAI_API_KEY");
                }
        }
        if (!c->provider && c->url)
                set(&c->provider, strstr(c->url, "anthropic") ? "anthropic" : "openai");
        if (!c->provider)
                return 0; /* the offline planner */

        bool anthropic = !strcmp(c->provider, "anthropic");
        if (!anthropic && strcmp(c->provider, "openai") != 0) {
                err_set(e, EINVAL, "%s: provider \"%s\" is not one of openai, anthropic",
                        c->source ? c->source : "ai config", c->provider);
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        if (!c->key) {
                const char *var = anthropic ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
                set(&c->key, env(var));
                if (key_ok(c->key, var, e) < 0)
                        return -1;
        }
        if (!c->url)
                set(&c->url, anthropic ? ANTHROPIC_URL : OPENAI_URL);
        if (!c->model)
                set(&c->model, anthropic ? ANTHROPIC_MODEL : OPENAI_MODEL);
        if (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)) {
                /* never the value itself: a URL may hold a credential */
                err_set(e, EINVAL, "%s: the LLM URL is not http:// or https://",
                        c->source ? c->source : "ai config");
                e->exit = OSVM_EXIT_CONFIG;
                return -1;
        }
        return 0;
}

void agent_ai_config_free(struct agent_ai_config *c)
{
        free(c->provider);
        free(c->url);
        free(c->model);
        if (c->key)
                explicit_bzero(c->key, strlen(c->key));
        free(c->key);
        free(c->source);
        memset(c, 0, sizeof(*c));
}

struct agent_planner *agent_planner_new(const struct agent_ai_config *c, osvm_err *e)
{
        if (!c->provider)
                return agent_planner_offline();
        if (!strcmp(c->provider, "anthropic"))
                return agent_planner_anthropic(c, e);
        return agent_planner_openai(c, e);
}
