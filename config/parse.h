/*
 * Value parsers for configuration and command-line input: durations,
 * sizes, integers, booleans, signal names, comma lists and shell-style
 * word splitting. Each returns 0 on success or -1 with a static message in
 * *err suitable for "FILE:LINE: key: message".
 */
#ifndef MPSUP_PARSE_H
#define MPSUP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "1.5s", "100ms", "2m", "1h", bare number = seconds. */
int	parse_duration(const char *, double *, const char **err);
/* "1024", "64K", "1M", "2G" (binary multiples). */
int	parse_size(const char *, uint64_t *, const char **err);
int	parse_long(const char *, long min, long max, long *, const char **err);
/* A file mode in octal ("0600", "640"): read/write bits only, <= 0666. */
int	parse_mode(const char *, int *, const char **err);
/* yes/no, true/false, on/off, 1/0. */
int	parse_bool(const char *, int *, const char **err);
/* "TERM", "SIGTERM" or a number. */
int	parse_signal(const char *, int *, const char **err);
const char *signal_name(int);
/* Split on commas, trimming blanks; empty items are an error. */
int	parse_list(const char *, char ***, size_t *, const char **err);
/* Shell-style words: '...', "...", backslash; no expansion. */
int	parse_words(const char *, char ***, size_t *, const char **err);
void	free_strv(char **, size_t);

#endif
