/*
 * Time helpers (see timeutil.h).
 */
#include "config.h"

#include <limits.h>
#include <math.h>
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

/* Two decimal digits of v (0..99) at p. */
static inline void
time_put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * "YYYY-MM-DDTHH:MM:SS" of a second, into out (20 bytes, no NUL). The
 * date is formatted once per day and cached (one entry for each of the
 * two days a backlog can straddle); the time of day is plain integer
 * arithmetic.
 */
static void
time_iso_second(time_t secs, char *out)
{
	static long	days[2] = { LONG_MIN, LONG_MIN };
	static char	date[2][48];
	static unsigned	next;
	struct tm	tm;
	long		day;
	unsigned	sod, slot;

	day = (long)(secs / 86400);
	if (secs % 86400 < 0)
		day--;		/* before 1970: days round down */
	sod = (unsigned)(secs - (time_t)day * 86400);
	if (days[0] == day)
		slot = 0;
	else if (days[1] == day)
		slot = 1;
	else {
		slot = next;
		next ^= 1;
		gmtime_r(&secs, &tm);
		/* Sized for 4-digit years; wider fields cannot occur. */
		snprintf(date[slot], sizeof date[slot], "%04d-%02d-%02dT",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		days[slot] = day;
	}
	memcpy(out, date[slot], 11);
	time_put2(out + 11, sod / 3600);
	out[13] = ':';
	time_put2(out + 14, sod / 60 % 60);
	out[16] = ':';
	time_put2(out + 17, sod % 60);
}

/*
 * Job records carry three timestamps each and are built by the hundred
 * thousand per second: a job's start and finish, often its submission
 * too, fall in the same second. The text of the last two seconds asked
 * for is kept; the milliseconds are added to it. The instants repeat as
 * well (the jobs of one request share their submission time, those that
 * start or end in one loop turn its time): the last TIME_ISO_SEEN texts
 * are kept whole, which a batch's records mostly find.
 */
#define TIME_ISO_SEEN	4

void
time_iso8601(double t, char out[TIME_ISO_BUF])
{
	static time_t	secs_of[2] = { LONG_MIN, LONG_MIN };
	static char	text[2][20];
	static unsigned	next;
	static double	seen_t[TIME_ISO_SEEN] = { NAN, NAN, NAN, NAN };
	static char	seen[TIME_ISO_SEEN][TIME_ISO_LEN];
	static unsigned	seen_next;
	time_t		secs = (time_t)t;
	long		ms;
	unsigned	slot;

	for (slot = 0; slot < TIME_ISO_SEEN; slot++)
		if (seen_t[slot] == t) {
			memcpy(out, seen[slot], TIME_ISO_LEN);
			return;
		}
	ms = (long)((t - (double)secs) * 1000.0);

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	if (secs_of[0] == secs)
		slot = 0;
	else if (secs_of[1] == secs)
		slot = 1;
	else {
		slot = next;
		next ^= 1;
		time_iso_second(secs, text[slot]);
		secs_of[slot] = secs;
	}
	memcpy(out, text[slot], 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
	slot = seen_next++ % TIME_ISO_SEEN;
	seen_t[slot] = t;
	memcpy(seen[slot], out, TIME_ISO_LEN);
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
