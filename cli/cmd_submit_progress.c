/*
 * The progress line of `mpsup submit --stdin` (see cmd_submit_progress.h).
 * Redrawn with a carriage return and "erase to end of line", as GNU
 * parallel's --bar does, so it never scrolls the terminal.
 */
#include "config.h"

#include <stdio.h>

#include "common/timeutil.h"
#include "cli/cmd_submit_progress.h"

void
submit_progress_start(struct submit_progress *p, FILE *out)
{
	p->out = out;
	p->started = time_mono();
	p->drawn_at = 0;
	p->drawn = 0;
	p->input_ended = 0;
	p->total = p->done = p->failed = 0;
}

/* A duration as "42s", "3m07s" or "2h05m". */
static void
submit_progress_duration(double secs, char *out, size_t size)
{
	unsigned long	s = secs > 0 ? (unsigned long)(secs + 0.5) : 0;

	if (s < 60)
		snprintf(out, size, "%lus", s);
	else if (s < 3600)
		snprintf(out, size, "%lum%02lus", s / 60, s % 60);
	else
		snprintf(out, size, "%luh%02lum", s / 3600, s % 3600 / 60);
}

void
submit_progress_format(const struct submit_progress *p, double now, int final,
    char *out, size_t size)
{
	double		elapsed = now - p->started, rate;
	uint64_t	ended = p->done + p->failed;
	char		t[32] = "";

	rate = elapsed > 0 ? (double)ended / elapsed : 0;
	if (final)
		submit_progress_duration(elapsed, t, sizeof t);
	else if (p->input_ended && rate > 0)
		submit_progress_duration((double)(p->total - ended) / rate, t,
		    sizeof t);
	snprintf(out, size, "mpsup: %llu done, %llu failed, %llu %s, "
	    "%.1f jobs/s%s%s", (unsigned long long)p->done,
	    (unsigned long long)p->failed, (unsigned long long)p->total,
	    p->input_ended ? "total" : "submitted so far", rate,
	    *t == '\0' ? "" : final ? " in " : ", ETA ", t);
}

void
submit_progress_draw(struct submit_progress *p, int force)
{
	double	now;
	char	line[256];

	if (p->out == NULL)
		return;
	now = time_mono();
	if (!force && p->drawn && now - p->drawn_at < SUBMIT_PROGRESS_INTERVAL)
		return;
	submit_progress_format(p, now, 0, line, sizeof line);
	fprintf(p->out, "\r%s\033[K", line);
	fflush(p->out);
	p->drawn = 1;
	p->drawn_at = now;
}

void
submit_progress_clear(struct submit_progress *p)
{
	if (p->out == NULL || !p->drawn)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
	p->drawn = 0;
}

void
submit_progress_finish(struct submit_progress *p)
{
	char	line[256];

	if (p->out == NULL)
		return;
	submit_progress_format(p, time_mono(), 1, line, sizeof line);
	fprintf(p->out, "\r%s\033[K\n", line);
	fflush(p->out);
	p->drawn = 0;
}
