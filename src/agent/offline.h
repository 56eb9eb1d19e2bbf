/*
 * The offline planner's pieces (private to src/agent): the request cut into
 * typed tokens, and arguments filled from them by a tool's input schema.
 */
#ifndef OSVM_AGENT_OFFLINE_H
#define OSVM_AGENT_OFFLINE_H

#include "agent/agent.h"

enum off_kind {
        OFF_WORD,    /* anything else */
        OFF_QUOTED,  /* "..." or '...': text is the inside */
        OFF_KV,      /* key=value: key and text (the value, unquoted) */
        OFF_PATH,    /* /x, ./x, ../x, ~/x, ~ */
        OFF_URL,     /* scheme://... */
        OFF_NUMBER,  /* -12, 2.5 */
        OFF_B58ADDR, /* 32-44 base58 characters: a Solana address */
        OFF_B58SIG,  /* 87-88 base58 characters: a Solana signature */
};

struct off_token {
        enum off_kind kind;
        char *text;        /* the value, without quotes or trailing punctuation */
        char *key;         /* OFF_KV: the key */
        size_t start, end; /* the raw token's bytes in the request */
        bool used;         /* taken by an argument */
        char *word;        /* OFF_WORD: text lowercase and stemmed (off_stem) */
        bool stop;         /* OFF_WORD: word is a stop word */
};

struct off_req {
        char *text; /* a copy of the request */
        size_t n, cap;
        struct off_token *v; /* in the request's order: start and end increase */
};

void off_req_parse(struct off_req *r, const char *text);
void off_req_free(struct off_req *r);
void off_req_reset(struct off_req *r); /* marks every token unused */

/* Lowercase words of s split on anything not a letter or digit and on camelCase
 * humps, each passed to fn (stemmed when stem is set). */
void off_words(const char *s, bool stem, void (*fn)(void *ctx, const char *w), void *ctx);
/* files -> file, directories -> directory; a new string. */
char *off_stem(const char *w);
bool off_stop_word(const char *w);
/* v (of *cap elements of size bytes) with room for n elements: the capacity
 * doubles, so that adding one element at a time costs linear time. */
void *off_grow(void *v, size_t *cap, size_t n, size_t size);

/*
 * Fills args (an object) with values for the schema's properties that args
 * lacks, in the schema's order, from the request's unused tokens (marking
 * them used). rest_from is the first token index that a lone string property
 * may take as free text ("echo hello world" -> "hello world"; SIZE_MAX: never);
 * skip, when not NULL, tells words to leave off the ends of that text (the
 * tool's name words). whole_answer: the request answers a question for the
 * missing arguments, so a single missing string property takes all of it.
 */
struct off_fill {
        size_t rest_from;
        bool (*skip)(void *ctx, const char *word);
        void *skip_ctx;
        bool whole_answer;
};
void off_extract(struct off_req *r, const json_t *schema, json_t *args, const struct off_fill *f);
/* The required properties that args lacks (a new array of names). */
json_t *off_missing(const json_t *schema, const json_t *args);

#endif
