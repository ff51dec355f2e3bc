/*
 * The progress line of `mpsup submit --stdin` (cmd_submit_progress.c):
 * one line on stderr, redrawn in place at most every
 * SUBMIT_PROGRESS_INTERVAL seconds, with the jobs done, failed and
 * submitted so far, the rate, and an estimate of the time left once the
 * input has ended; at the end a summary line that stays. Included only by
 * the submit files.
 */
#ifndef MPSUP_CMD_SUBMIT_PROGRESS_H
#define MPSUP_CMD_SUBMIT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#define SUBMIT_PROGRESS_INTERVAL	0.2

struct submit_progress {
	FILE		*out;		/* NULL: off */
	double		 started;	/* time_mono() */
	double		 drawn_at;
	int		 drawn;		/* a line is on the screen */
	int		 input_ended;	/* total is final */
	uint64_t	 total;		/* jobs submitted so far */
	uint64_t	 done;
	uint64_t	 failed;
};

/* Start counting; draw on out (NULL: count only, draw nothing). */
void	submit_progress_start(struct submit_progress *, FILE *out);
/* Redraw if the last drawing is older than the interval (or force). */
void	submit_progress_draw(struct submit_progress *, int force);
/* Take the line off the screen (before other output). */
void	submit_progress_clear(struct submit_progress *);
/* Replace the line by the summary, which stays. */
void	submit_progress_finish(struct submit_progress *);
/* The line as it is drawn (no \r, no newline), into out[size]. */
void	submit_progress_format(const struct submit_progress *, double now,
	    int final, char *out, size_t size);

#endif
