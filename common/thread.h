/*
 * The supervisor's helper threads (the log's writer, the SQLite store's
 * commit and checkpoint threads, a Redis host's lookup) are started here,
 * so that they all follow two rules:
 *
 * - Signals are the event loop's: a helper starts with every signal
 *   blocked, so SIGCHLD, SIGTERM or SIGHUP never runs a handler on it nor
 *   interrupts a system call it makes (a commit's write, a checkpoint's
 *   flush, a lookup).
 * - A helper has a name of its own ("mpsup-commit", ...), which `top -H`,
 *   `ps -L`, perf and gdb show, so an operator can tell which of them
 *   spends the CPU.
 */
#ifndef MPSUP_THREAD_H
#define MPSUP_THREAD_H

#include <pthread.h>

/* A thread's name is at most this long (the kernel's limit, less NUL). */
#define THREAD_NAME_MAX	15

/*
 * Start fn(arg) on a new thread named name (at most THREAD_NAME_MAX
 * bytes), detached if detached is set; its id in *t unless detached.
 * Returns 0, or the error number pthread_create() gave.
 */
int	thread_start(pthread_t *t, int detached, void *(*fn)(void *),
	    void *arg, const char *name);

#endif
