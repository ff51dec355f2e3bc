/*
 * Value parsers shared by the config loader and the command line
 * (see parse.h). They never print; callers attach FILE:LINE context.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"
#include "config/parse.h"

int
parse_duration(const char *s, double *out, const char **err)
{
	char	*end;
	double	 v, mult = 1.0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '-' || *s == '+') {
		*err = "expected a duration such as 500ms, 10s, 5m or 1h";
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v)) {
		*err = "expected a duration such as 500ms, 10s, 5m or 1h";
		return -1;
	}
	if (strcmp(end, "ms") == 0)
		mult = 0.001;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1.0;
	else if (strcmp(end, "m") == 0)
		mult = 60.0;
	else if (strcmp(end, "h") == 0)
		mult = 3600.0;
	else {
		*err = "unknown duration unit (use ms, s, m or h)";
		return -1;
	}
	v *= mult;
	if (v > 365.0 * 86400.0) {
		*err = "duration too long (at most a year)";
		return -1;
	}
	*out = v;
	return 0;
}

int
parse_size(const char *s, uint64_t *out, const char **err)
{
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s)) {
		*err = "expected a size such as 4096, 64K, 1M or 2G";
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0) {
		*err = "size out of range";
		return -1;
	}
	if (*end != '\0') {
		switch (*end) {
		case 'K': case 'k': mult = 1ULL << 10; break;
		case 'M': case 'm': mult = 1ULL << 20; break;
		case 'G': case 'g': mult = 1ULL << 30; break;
		default:
			*err = "unknown size suffix (use K, M or G)";
			return -1;
		}
		if (end[1] != '\0' && !((end[1] == 'B' || end[1] == 'b') &&
		    end[2] == '\0')) {
			*err = "unknown size suffix (use K, M or G)";
			return -1;
		}
	}
	if (v > (1ULL << 50) / mult) {
		*err = "size out of range";
		return -1;
	}
	*out = v * mult;
	return 0;
}

int
parse_long(const char *s, long min, long max, long *out, const char **err)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0) {
		*err = "expected a whole number";
		return -1;
	}
	if (v < min) {
		*err = min == 0 ? "must not be negative" : "number too small";
		return -1;
	}
	if (v > max) {
		*err = "number too large";
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * A mode for a file mpsup creates: octal digits only (1 to 4), no execute,
 * setuid, setgid or sticky bits, so at most 0666.
 */
int
parse_mode(const char *s, int *out, const char **err)
{
	size_t	n = strspn(s, "01234567");
	long	v;

	if (n == 0 || s[n] != '\0' || n > 4) {
		*err = "expected an octal file mode such as 0600 or 0640";
		return -1;
	}
	v = strtol(s, NULL, 8);
	if (v & ~0777) {
		*err = "only permission bits are allowed (at most 0666)";
		return -1;
	}
	if (v & 0111) {
		*err = "execute bits make no sense for this file (at most "
		    "0666)";
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
parse_bool(const char *s, int *out, const char **err)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else {
		*err = "expected yes or no";
		return -1;
	}
	return 0;
}

static const struct {
	const char	*name;
	int		 sig;
} signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	{ "TERM", SIGTERM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH },
};

int
parse_signal(const char *s, int *out, const char **err)
{
	size_t	i;
	long	n;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++) {
		if (strcasecmp(s, signal_names[i].name) == 0) {
			*out = signal_names[i].sig;
			return 0;
		}
	}
	if (parse_long(s, 1, 64, &n, err) == 0) {
		*out = (int)n;
		return 0;
	}
	*err = "unknown signal (use a name such as TERM, INT, QUIT, HUP)";
	return -1;
}

const char *
signal_name(int sig)
{
	size_t	i;

	for (i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
		if (signal_names[i].sig == sig)
			return signal_names[i].name;
	return "?";
}

int
parse_list(const char *s, char ***out, size_t *n, const char **err)
{
	const char	*p = s, *start, *end;
	char		**v = NULL;
	size_t		 count = 0;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		if (end == start) {
			free_strv(v, count);
			*err = "empty item in comma-separated list";
			return -1;
		}
		v = xreallocarray(v, count + 2, sizeof *v);
		v[count++] = xstrndup(start, (size_t)(end - start));
		v[count] = NULL;
		if (*p == '\0')
			break;
		p++;
	}
	*out = v;
	*n = count;
	return 0;
}

int
parse_words(const char *s, char ***out, size_t *n, const char **err)
{
	char	**v = NULL, *word;
	size_t	  count = 0, len;
	int	  in_word;
	char	  quote;

	word = xmalloc(strlen(s) + 1);
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		len = 0;
		in_word = 1;
		quote = 0;
		while (in_word && *s != '\0') {
			if (quote == '\'') {
				if (*s == '\'')
					quote = 0;
				else
					word[len++] = *s;
				s++;
			} else if (quote == '"') {
				if (*s == '"')
					quote = 0;
				else if (*s == '\\' && (s[1] == '"' ||
				    s[1] == '\\' || s[1] == '$' || s[1] == '`'))
					word[len++] = *++s;
				else
					word[len++] = *s;
				s++;
			} else if (*s == '\'' || *s == '"') {
				quote = *s++;
			} else if (*s == '\\') {
				if (s[1] == '\0') {
					*err = "trailing backslash";
					goto fail;
				}
				word[len++] = s[1];
				s += 2;
			} else if (isspace((unsigned char)*s)) {
				in_word = 0;
			} else
				word[len++] = *s++;
		}
		if (quote != 0) {
			*err = "unterminated quote";
			goto fail;
		}
		v = xreallocarray(v, count + 2, sizeof *v);
		v[count++] = xstrndup(word, len);
		v[count] = NULL;
	}
	free(word);
	if (count == 0) {
		*err = "empty command";
		return -1;
	}
	*out = v;
	*n = count;
	return 0;
fail:
	free(word);
	free_strv(v, count);
	return -1;
}

void
free_strv(char **v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
