/*
 * Time helpers (see timeutil.h).
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "common/timeutil.h"

double
time_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
time_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void
time_iso8601(double t, char out[TIME_ISO_BUF])
{
	struct tm	tm;
	time_t		secs = (time_t)t;
	long		ms = (long)((t - (double)secs) * 1000.0);

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	gmtime_r(&secs, &tm);
	/* The buffer is sized for 4-digit years; wider fields cannot occur. */
	snprintf(out, TIME_ISO_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ms);
}
