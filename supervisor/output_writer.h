/*
 * The output log's writer thread (for output.c alone). The loop hands it
 * buffers of whole records in order; the thread writes each one out
 * whole, waiting on the log as long as the log makes it wait, so that a
 * slow disk or a pipe nobody reads holds up this thread, never the loop.
 */
#ifndef MPSUP_OUTPUT_WRITER_H
#define MPSUP_OUTPUT_WRITER_H

#include <stddef.h>

struct buf;
struct output_writer;

/*
 * Start writing to fd (which stays the caller's). Each time the bytes
 * not yet written fall to low or below after a hand-off, and when the
 * log takes records again after it refused some, wake(arg) runs on the
 * thread (it must be safe to call from there). NULL with *cause.
 */
struct output_writer *output_writer_start(int fd, size_t low,
		    void (*wake)(void *), void *arg, char **cause);
/* Queue b's bytes for the current fd; b is left empty. */
void		 output_writer_give(struct output_writer *, struct buf *b);
/*
 * What is queued from now on goes to fd; the old one is closed, if
 * close_old, once what was queued before is written.
 */
void		 output_writer_switch(struct output_writer *, int fd,
		    int close_old);
/*
 * Bytes the log refused (a write failed: ENOSPC, EFBIG, EPIPE) since the
 * last call, and *err why, once it takes records again; else 0. The
 * thread says on stderr when the log begins to refuse them.
 */
size_t		 output_writer_lost(struct output_writer *, int *err);
/* Bytes queued and not yet written. */
size_t		 output_writer_queued(const struct output_writer *);
/* Wait at most timeout seconds for them: 0 once written, else -1. */
int		 output_writer_wait(struct output_writer *, double timeout);
/*
 * Wait at most timeout seconds for them, then end the thread (cut short
 * if it waits on the log still). Returns the bytes left unwritten.
 */
size_t		 output_writer_stop(struct output_writer *, double timeout);

#endif
