/*
 * Cron expressions (see cron.h). Times are handled as a proleptic
 * Gregorian calendar computed from day numbers, so no libc time zone
 * state is touched: a schedule's zone is a fixed offset added before the
 * fields are read and taken off again after.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cron.h"

#define CRON_SPAN	((int64_t)30 * 366 * 86400)	/* search horizon */

struct cron_field {
	int			 lo, hi;
	const char *const	*names;		/* lo-based, or NULL */
	const char		*range_msg;
	const char		*syntax_msg;
	const char		*step_msg;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
	"may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const wday_names[] = { "sun", "mon", "tue", "wed", "thu",
	"fri", "sat", NULL };

#define FIELD(n, lo, hi, names, r) { lo, hi, names, \
	n ": value out of range (" r ")", \
	n ": expected *, N or N-M, with an optional /STEP, or a comma list " \
	"of them", n ": bad step (a number from 1 to the field's range)" }

static const struct cron_field fields[5] = {
	FIELD("minute", 0, 59, NULL, "0-59"),
	FIELD("hour", 0, 23, NULL, "0-23"),
	FIELD("day of month", 1, 31, NULL, "1-31"),
	FIELD("month", 1, 12, month_names, "1-12 or jan-dec"),
	FIELD("day of week", 0, 7, wday_names, "0-7 or sun-sat"),
};

static const struct {
	const char	*name;
	const char	*expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" }, { "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* Days since 1970-01-01 of a civil date (m 1-12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The civil date of a day number. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* A number or (for months and weekdays) a name; NULL if neither. */
static const char *
field_value(const struct cron_field *f, const char *p, int *v)
{
	long	 n;
	char	*end;
	int	 i;

	if (isdigit((unsigned char)*p)) {
		n = strtol(p, &end, 10);
		*v = n > 1000 ? 1000 : (int)n;
		return end;
	}
	for (i = 0; f->names != NULL && f->names[i] != NULL; i++) {
		if (strncasecmp(p, f->names[i], 3) == 0 &&
		    !isalpha((unsigned char)p[3])) {
			*v = f->lo + i;
			return p + 3;
		}
	}
	return NULL;
}

/* One item of a field: *, N, N-M, with /STEP; sets its bits. */
static const char *
field_item(const struct cron_field *f, const char *p, uint64_t *bits,
    const char **err)
{
	int	a = f->lo, b = f->hi, step = 1, v;

	if (*p == '*')
		p++;
	else {
		if ((p = field_value(f, p, &a)) == NULL)
			return *err = f->syntax_msg, NULL;
		b = a;
		if (*p == '-' && (p = field_value(f, p + 1, &b)) == NULL)
			return *err = f->syntax_msg, NULL;
		if (*p == '/' && b == a)
			b = f->hi;
	}
	if (*p == '/') {
		if (!isdigit((unsigned char)p[1]))
			return *err = f->step_msg, NULL;
		p = field_value(f, p + 1, &step);
		if (step < 1 || step > f->hi - f->lo + 1)
			return *err = f->step_msg, NULL;
	}
	if (*p != ',' && *p != '\0')
		return *err = f->syntax_msg, NULL;
	if (a < f->lo || b > f->hi || a > b)
		return *err = f->range_msg, NULL;
	for (v = a; v <= b; v += step)
		*bits |= (uint64_t)1 << v;
	return p;
}

/* One whitespace-free field into bits. */
static int
field_parse(const struct cron_field *f, const char *s, uint64_t *bits,
    const char **err)
{
	const char	*p = s;

	*bits = 0;
	for (;;) {
		if ((p = field_item(f, p, bits, err)) == NULL)
			return -1;
		if (*p == '\0')
			return 0;
		p++;
	}
}

/* Whether some allowed month has an allowed day of month. */
static int
cron_can_match(const struct cron *c)
{
	static const int	 mlen[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	int			 m, d;

	if (!c->mday_star && !c->wday_star)
		return 1;	/* either day field may match: weekdays do */
	for (m = 1; m <= 12; m++)
		for (d = 1; d <= mlen[m]; d++)
			if ((c->months >> m & 1) && (c->mdays >> d & 1))
				return 1;
	return 0;
}

/* Split expr (or the macro it names) into five fields and parse them. */
int
cron_parse(const char *expr, struct cron *c, const char **err)
{
	char		 copy[256], *f[6], *save = NULL;
	uint64_t	 bits[5];
	size_t		 i, n = 0;

	for (i = 0; expr[0] == '@' && i < sizeof macros / sizeof macros[0]; i++)
		if (strcasecmp(expr, macros[i].name) == 0)
			expr = macros[i].expr;
	if (expr[0] == '@')
		return *err = "unknown macro (use @yearly, @annually, "
		    "@monthly, @weekly, @daily, @midnight or @hourly)", -1;
	if (strlen(expr) >= sizeof copy)
		return *err = "expression too long", -1;
	strcpy(copy, expr);
	for (f[n] = strtok_r(copy, " \t", &save); f[n] != NULL && n < 5;
	    f[n] = strtok_r(NULL, " \t", &save))
		n++;
	if (n != 5 || f[5] != NULL)
		return *err = "expected five fields: minute hour "
		    "day-of-month month day-of-week", -1;
	for (i = 0; i < 5; i++)
		if (field_parse(&fields[i], f[i], &bits[i], err) == -1)
			return -1;
	memset(c, 0, sizeof *c);
	c->minutes = bits[0];
	c->hours = (uint32_t)bits[1];
	c->mdays = (uint32_t)bits[2];
	c->months = (uint16_t)bits[3];
	c->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	c->mday_star = f[2][0] == '*';
	c->wday_star = f[4][0] == '*';
	if (!cron_can_match(c))
		return *err = "the day of month never occurs in the months "
		    "given", -1;
	return 0;
}

/* Whether the day (civil d, day number days) matches both day fields. */
static int
cron_day_match(const struct cron *c, int d, int64_t days)
{
	int	wd = (int)(((days + 4) % 7 + 7) % 7);
	int	dm = c->mdays >> d & 1, wm = c->wdays >> wd & 1;

	if (c->mday_star || c->wday_star)
		return dm && wm;
	return dm || wm;
}

/*
 * Step from local time t (a whole minute) towards a match, forward
 * (dir 1) or backward (dir -1), skipping a whole month, day or hour when
 * it cannot match. Returns the local time of the match, or -1.
 */
static int64_t
cron_search(const struct cron *c, int64_t t, int dir)
{
	int64_t		start = t, days, secs, y;
	int		m, d, h, mi;

	while (llabs(t - start) <= CRON_SPAN) {
		days = floor_div(t, 86400);
		secs = t - days * 86400;
		civil_from_days(days, &y, &m, &d);
		h = (int)(secs / 3600);
		mi = (int)(secs % 3600 / 60);
		if (!(c->months >> m & 1))
			t = dir > 0 ? days_from_civil(m == 12 ? y + 1 : y,
			    m == 12 ? 1 : m + 1, 1) * 86400 :
			    days_from_civil(y, m, 1) * 86400 - 60;
		else if (!cron_day_match(c, d, days))
			t = dir > 0 ? (days + 1) * 86400 : days * 86400 - 60;
		else if (!(c->hours >> h & 1))
			t = dir > 0 ? days * 86400 + (h + 1) * 3600 :
			    days * 86400 + h * 3600 - 60;
		else if (!(c->minutes >> mi & 1))
			t += dir * 60;
		else
			return t;
	}
	return -1;
}

/* The first match strictly after `after` (see cron.h). */
int64_t
cron_next(const struct cron *c, int64_t after, int offset)
{
	int64_t	t = floor_div(after + offset, 60) * 60 + 60;

	t = cron_search(c, t, 1);
	return t == -1 ? -1 : t - offset;
}

/* The last match at or before `at` (see cron.h). */
int64_t
cron_prev(const struct cron *c, int64_t at, int offset)
{
	int64_t	t = floor_div(at + offset, 60) * 60;

	t = cron_search(c, t, -1);
	return t == -1 ? -1 : t - offset;
}

/* Two digits at p into *v; 0 if they are there. */
static int
two_digits(const char *p, int *v)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

/* "UTC", "Z" or a fixed offset (see cron.h). */
int
cron_parse_zone(const char *s, int *offset, const char **err)
{
	int	sign, hh, mm = 0;

	if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 ||
	    strcmp(s, "GMT") == 0) {
		*offset = 0;
		return 0;
	}
	if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
		s += 3;
	if ((s[0] != '+' && s[0] != '-') || two_digits(s + 1, &hh) == -1)
		goto bad;
	sign = s[0] == '-' ? -1 : 1;
	s += 3;
	if (*s == ':')
		s++;
	if (*s != '\0' && (two_digits(s, &mm) == -1 || s[2] != '\0'))
		goto bad;
	if (hh > 14 || mm > 59)
		return *err = "offset out of range (at most +14:00 and "
		    "-14:00)", -1;
	*offset = sign * (hh * 3600 + mm * 60);
	return 0;
bad:
	*err = "expected UTC or a fixed offset such as +02:00 or -0530 "
	    "(named zones are not supported: their offsets change with "
	    "daylight saving time)";
	return -1;
}
