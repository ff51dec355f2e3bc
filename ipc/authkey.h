/*
 * Authkey files (SPEC section 7): the key is the file's content with
 * trailing whitespace removed, so that a Python client can use
 * open(path, "rb").read().strip(). New keys are 32 random bytes written as
 * 64 lowercase hex characters and a newline, mode 0600.
 */
#ifndef MPSUP_AUTHKEY_H
#define MPSUP_AUTHKEY_H

#include <stddef.h>

struct config;
struct client_config;

#define AUTHKEY_MIN_LEN		16	/* shortest key accepted */
#define AUTHKEY_FILE_MAX	4096	/* largest key file read */
#define AUTHKEY_RANDOM_LEN	32	/* random bytes in a new key */

int	authkey_load(const char *, int, unsigned char **, size_t *, char **);
int	authkey_generate(const char *, char **);
int	authkey_write_fd(int, char **);
void	authkey_free(unsigned char *, size_t);
int	authkey_equal(const unsigned char *, size_t, const unsigned char *,
	    size_t);
char	*authkey_same_message(const struct config *,
	    const struct client_config *, const struct client_config *);
int	authkey_check_distinct(const struct config *, char **);

#endif
