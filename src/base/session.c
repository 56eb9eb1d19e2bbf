/* The session state behind the status line. */
#include "base.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct osvm_session the_session;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct osvm_session *session_get(void)
{
        return &the_session;
}

void session_reset(struct osvm_session *s, uint64_t start_ns)
{
        pthread_mutex_lock(&lock);
        memset(s, 0, sizeof(*s));
        s->start_ns = start_ns;
        pthread_mutex_unlock(&lock);
}

void session_set_server(struct osvm_session *s, const char *name, const char *where,
                        enum session_server_state state)
{
        pthread_mutex_lock(&lock);
        size_t i = 0;
        while (i < s->nservers && strcmp(s->servers[i].name, name) != 0)
                i++;
        if (i == s->nservers) {
                if (i == SESSION_MAX_SERVERS)
                        goto out;
                s->nservers++;
        }
        struct session_server *sv = &s->servers[i];
        snprintf(sv->name, sizeof(sv->name), "%s", name);
        snprintf(sv->where, sizeof(sv->where), "%s", where);
        sv->state = state;
out:
        pthread_mutex_unlock(&lock);
}

/* Adds delta to a live count, never below zero. */
static void live_add(unsigned *live, int delta)
{
        pthread_mutex_lock(&lock);
        if (delta < 0 && (unsigned)-delta > *live)
                *live = 0;
        else
                *live += (unsigned)delta;
        pthread_mutex_unlock(&lock);
}

void session_note_microvm(struct osvm_session *s, int delta)
{
        live_add(&s->live_microvms, delta);
}

void session_note_unikernel(struct osvm_session *s)
{
        pthread_mutex_lock(&lock);
        s->unikernels_run++;
        pthread_mutex_unlock(&lock);
}

void session_note_agent_proc(struct osvm_session *s, int delta)
{
        live_add(&s->live_agent_procs, delta);
}

void session_note_unikernel_proc(struct osvm_session *s)
{
        pthread_mutex_lock(&lock);
        s->unikernel_procs_run++;
        pthread_mutex_unlock(&lock);
}

void session_note_fallback(struct osvm_session *s)
{
        pthread_mutex_lock(&lock);
        s->fallbacks++;
        pthread_mutex_unlock(&lock);
}

void session_set_net(struct osvm_session *s, enum session_net net, unsigned allow_count)
{
        pthread_mutex_lock(&lock);
        s->net = net;
        s->net_allow_count = allow_count;
        pthread_mutex_unlock(&lock);
}
