/*
 * Wall-clock and monotonic time helpers and the one timestamp format mpsup
 * prints everywhere: RFC 3339 UTC with milliseconds, "2026-11-26T20:50:01.123Z".
 */
#ifndef MPSUP_TIMEUTIL_H
#define MPSUP_TIMEUTIL_H

#include <stddef.h>

#define TIME_ISO_LEN	sizeof("2026-11-26T20:50:01.123Z")

double	time_wall(void);
double	time_mono(void);
/* Format wall-clock seconds into out; size buffers with TIME_ISO_BUF. */
#define TIME_ISO_BUF	(TIME_ISO_LEN + 16)
void	time_iso8601(double, char out[TIME_ISO_BUF]);
/*
 * Parse an RFC 3339 date-time ("2026-11-26T20:50:01Z", with optional
 * fraction and a Z or +HH:MM offset) into wall-clock seconds; -1 if it is
 * not one (or names a day that does not exist, or is before 1970).
 */
int	time_parse_rfc3339(const char *, double *out);

#endif
