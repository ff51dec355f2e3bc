/*
 * The fake worker module (see fake_worker.h): the state machine of
 * worker.c without processes or pipes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "store/job.h"
#include "tests/unit/fake_worker.h"

#define FAKE_MAX_SENT	256

struct worker {
	struct worker_env	*env;
	struct pool_config *const *pcp;
	const struct worker_cbs	*cbs;
	void			*arg;
	void			*data;
	int			 index;
	enum worker_state	 state;
	unsigned		 gen;
	int			 stopping;
	int			 inflight;
	char			*why;
	int			 cancels;
	int			 nsent;
	char			 sent[FAKE_MAX_SENT][JOB_ID_LEN + 1];
};

static int	fail_spawns;

struct worker *
worker_new(struct worker_env *env, struct pool_config *const *pcp, int index,
    const struct worker_cbs *cbs, void *arg)
{
	struct worker	*w = calloc(1, sizeof *w);

	w->env = env;
	w->pcp = pcp;
	w->cbs = cbs;
	w->arg = arg;
	w->index = index;
	w->state = WORKER_DEAD;
	return w;
}

void
worker_free(struct worker *w)
{
	free(w->why);
	free(w);
}

int
worker_spawn(struct worker *w, unsigned gen, struct worker_proc *proc)
{
	if (fail_spawns)
		return -1;
	w->gen = gen;
	w->state = WORKER_READY;
	w->stopping = 0;
	w->inflight = 0;
	w->nsent = 0;
	w->cancels = 0;
	free(w->why);
	w->why = NULL;
	w->cbs->spawned_cb(w, w->arg);
	return 0;
}

void
worker_stop(struct worker *w)
{
	if (w->state == WORKER_DEAD || w->stopping)
		return;
	w->stopping = 1;
	w->state = WORKER_STOPPING;
}

void
worker_kill(struct worker *w)
{
}

void
worker_fail(struct worker *w, const char *why)
{
	if (w->state == WORKER_DEAD)
		return;
	if (w->why == NULL)
		w->why = strdup(why);
	w->cbs->lost_cb(w, w->arg);
}

void
worker_set_inflight(struct worker *w, int n)
{
	w->inflight = n;
	if (n > 0 && w->state == WORKER_READY)
		w->state = WORKER_BUSY;
	else if (n == 0 && w->state == WORKER_BUSY)
		w->state = WORKER_READY;
}

void
worker_send_job(struct worker *w, const char *id, size_t idlen,
    const char *data, size_t len, double timeout_ms)
{
	if (w->nsent < FAKE_MAX_SENT)
		snprintf(w->sent[w->nsent++], JOB_ID_LEN + 1, "%.*s",
		    (int)idlen, id);
}

int
worker_send_cancel(struct worker *w, const char *id)
{
	w->cancels++;
	return 0;
}

void
worker_flush_all(struct worker_env *env)
{
}

void
worker_seal_all(struct worker_env *env)
{
}

void
worker_flush_sealed(struct worker_env *env)
{
}

int
worker_alive(const struct worker *w)
{
	return w->state != WORKER_DEAD;
}

int
worker_index(const struct worker *w)
{
	return w->index;
}

enum worker_state
worker_state(const struct worker *w)
{
	return w->state;
}

pid_t
worker_pid(const struct worker *w)
{
	return w->state != WORKER_DEAD ? 1000 + w->index : 0;
}

double
worker_started_at(const struct worker *w)
{
	return 0;
}

unsigned
worker_gen(const struct worker *w)
{
	return w->gen;
}

int
worker_stopping(const struct worker *w)
{
	return w->stopping;
}

void
worker_set_data(struct worker *w, void *data)
{
	w->data = data;
}

void *
worker_data(const struct worker *w)
{
	return w->data;
}

const char *
worker_state_name(enum worker_state s)
{
	static const char *const names[] = { "dead", "idle", "busy",
	    "stopping" };

	return names[s];
}

int
fake_worker_nsent(const struct worker *w)
{
	return w->nsent;
}

const char *
fake_worker_sent(const struct worker *w, int i)
{
	return i < w->nsent ? w->sent[i] : NULL;
}

int
fake_worker_answer(struct worker *w, const char *id, int ok)
{
	char	line[256];
	int	n;

	if (ok)
		n = snprintf(line, sizeof line,
		    "{\"id\":\"%s\",\"ok\":true,\"result\":[1,2]}", id);
	else
		n = snprintf(line, sizeof line,
		    "{\"id\":\"%s\",\"ok\":false,\"error\":\"no\"}", id);
	if (w->cbs->result_cb(w, line, (size_t)n, w->arg) == -1) {
		worker_fail(w, "malformed result line");
		return -1;
	}
	return 0;
}

void
fake_worker_die(struct worker *w, double uptime)
{
	char	*why = w->why;

	if (w->state == WORKER_DEAD)
		return;
	w->cbs->lost_cb(w, w->arg);
	w->state = WORKER_DEAD;
	w->inflight = 0;
	w->why = NULL;
	w->cbs->gone_cb(w, uptime, why, w->arg);
	free(why);
}

void
fake_worker_idle(struct worker *w)
{
	w->cbs->idle_cb(w, w->arg);
}

const char *
fake_worker_why(const struct worker *w)
{
	return w->why;
}

int
fake_worker_cancels(const struct worker *w)
{
	return w->cancels;
}

void
fake_worker_fail_spawns(int on)
{
	fail_spawns = on;
}
