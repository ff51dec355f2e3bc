/*
 * Process-wide diagnostics in three tiers (after OpenSMTPD's log.h):
 * fatal()/fatalx() end the process; log_warn()/log_warnx() report trouble
 * that is recovered from; log_info()/log_debug() narrate. The "x" variants
 * do not append strerror(errno).
 *
 * Messages go to stderr as "mpsup: message" until a sink is installed; the
 * supervisor installs one that writes them into the serialized output log.
 */
#ifndef MPSUP_LOG_H
#define MPSUP_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_FATAL,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Receives one finished message (no trailing newline). */
typedef void (*log_sink_fn)(enum log_level, const char *msg, void *arg);

void	log_init(const char *progname, int debug);
void	log_set_sink(log_sink_fn, void *arg);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
