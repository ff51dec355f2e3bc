/*
 * Dead letters, the engine's side (the queue keeps them: store/queue.h,
 * queue_dead_next): a dead letter goes back to its pool as a new job with
 * the same data, its attempts starting over, linked to the old one by
 * "retry_of"; the old one leaves the dead letters and is an ordinary
 * finished record from then on.
 */
#ifndef MPSUP_DEAD_H
#define MPSUP_DEAD_H

#include <stddef.h>

struct job;
struct queue;

/*
 * Retry the dead letter `dead`: the new job, or NULL with *err set to an
 * error code (unknown_pool: its pool was removed; queue_full,
 * shutting_down: as dispatch_submit()).
 */
struct job	*dead_retry(struct queue *, struct job *dead, const char **err);
/*
 * Sort jobs into id order (the order they were submitted in); returns one
 * that is in the list twice, or NULL.
 */
struct job	*dead_sort(struct job **jobs, size_t n);

#endif
