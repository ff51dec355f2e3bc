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

/* n decimal digits at s into *v; -1 if one is not a digit. */
static int
time_digits(const char *s, int n, int *v)
{
	*v = 0;
	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		*v = *v * 10 + (*s++ - '0');
	}
	return 0;
}

int
time_parse_rfc3339(const char *s, double *out)
{
	struct tm	tm;
	int		y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	double		frac = 0, scale = 0.1;
	time_t		t;

	if (strlen(s) < 20 || time_digits(s, 4, &y) == -1 || s[4] != '-' ||
	    time_digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    time_digits(s + 8, 2, &d) == -1 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    time_digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    time_digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    time_digits(s + 17, 2, &sec) == -1)
		return -1;
	s += 19;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return -1;
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (time_digits(s + 1, 2, &oh) == -1 || s[3] != ':' ||
		    time_digits(s + 4, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
		s += 6;
	} else
		return -1;
	if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*out = (double)t + frac - sign * (oh * 3600 + om * 60);
	return 0;
}
