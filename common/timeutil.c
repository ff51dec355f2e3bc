/*
 * Time helpers (see timeutil.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
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

/*
 * Job records carry three timestamps each and are built by the hundred
 * thousand per second: the date and time of day are formatted once per
 * second and cached; only the milliseconds are written each time.
 */
void
time_iso8601(double t, char out[TIME_ISO_BUF])
{
	static time_t	cached = -1;
	static char	prefix[TIME_ISO_BUF];
	struct tm	tm;
	time_t		secs = (time_t)t;
	long		ms = (long)((t - (double)secs) * 1000.0);

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	if (secs != cached) {
		gmtime_r(&secs, &tm);
		/* Sized for 4-digit years; wider fields cannot occur. */
		snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		cached = secs;
	}
	memcpy(out, prefix, 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}
