/*
 * Five-field cron expressions and fixed-offset time zones for the
 * [schedule:NAME] sections: parsing, and the pure next-tick function the
 * supervisor's schedules run on (no clock, no TZ variable, no libc time
 * zone state: every time is seconds since the epoch, and a zone is an
 * offset from UTC in seconds).
 *
 * Fields are minute (0-59), hour (0-23), day of month (1-31), month (1-12
 * or jan-dec) and day of week (0-7 or sun-sat, 0 and 7 both Sunday).
 * Each is a comma list of '*', N or N-M, each optionally followed by
 * "/STEP" (N/STEP runs from N to the field's end). As in Vixie cron, when
 * both day fields are restricted (neither starts with '*') a day matches
 * if either matches. @yearly (@annually), @monthly, @weekly, @daily
 * (@midnight) and @hourly stand for their usual five fields.
 */
#ifndef MPSUP_CRON_H
#define MPSUP_CRON_H

#include <stdint.h>

struct cron {
	uint64_t	minutes;	/* bit m: minute m */
	uint32_t	hours;		/* bit h */
	uint32_t	mdays;		/* bit d, 1-31 */
	uint16_t	months;		/* bit m, 1-12 */
	uint8_t		wdays;		/* bit w, 0-6, Sunday 0 */
	uint8_t		mday_star;	/* day-of-month field began with '*' */
	uint8_t		wday_star;
};

/*
 * Parse expr into c. -1 with *err (a static sentence naming the field)
 * on bad syntax, an out-of-range value, or an expression that can never
 * match (e.g. "0 0 31 2 *").
 */
int	cron_parse(const char *expr, struct cron *c, const char **err);
/*
 * The first time the expression matches strictly after `after` (seconds
 * since the epoch; whole minutes, seconds 0), reading the fields in the
 * zone `offset` seconds east of UTC. -1 if none within 30 years.
 */
int64_t	cron_next(const struct cron *c, int64_t after, int offset);
/* The last match at or before `at`, or -1 if none within 30 years. */
int64_t	cron_prev(const struct cron *c, int64_t at, int offset);
/*
 * A time zone: "UTC", "Z", or a fixed offset "+HH:MM", "-HHMM",
 * "UTC+HH[:MM]". Named zones (Europe/Paris) are refused: their offsets
 * change with daylight saving time and are not supported. 0 with
 * *offset in seconds east of UTC, or -1 with *err.
 */
int	cron_parse_zone(const char *s, int *offset, const char **err);

#endif
