/*
 * Loading and creating authkey files (see authkey.h).
 *
 * A key file must be a regular file that neither the group nor others can
 * read or write: a readable key lets anyone submit jobs, a writable one lets
 * anyone choose the key. It must also belong to the user mpsup runs as or
 * to root: its owner can chmod it open or replace the key at will (a
 * symlink to such a file is fine: secrets are often mounted that way). A
 * new file is written under a temporary name and then linked into place,
 * which fails if the name exists, so a reader never sees a half-written
 * key and an existing key is never replaced.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/authkey.h"

#define AUTHKEY_TEXT_LEN	(AUTHKEY_RANDOM_LEN * 2 + 1)

/* Fill out with a new key's text: 64 hex digits and a newline. */
static int
authkey_text(char out[AUTHKEY_TEXT_LEN], char **cause)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 raw[AUTHKEY_RANDOM_LEN];
	size_t			 i;

	if (RAND_bytes(raw, sizeof raw) != 1) {
		*cause = xstrdup("no secure random source for a new authkey");
		return -1;
	}
	for (i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[AUTHKEY_TEXT_LEN - 1] = '\n';
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

/* Write all of p to fd. */
static int
authkey_write_all(int fd, const char *p, size_t n)
{
	ssize_t	r;

	while (n > 0) {
		if ((r = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= r;
	}
	return 0;
}

/* Write a new random key (text form) to fd, e.g. stdout for keygen. */
int
authkey_write_fd(int fd, char **cause)
{
	char	text[AUTHKEY_TEXT_LEN];
	int	rv = 0;

	if (authkey_text(text, cause) == -1)
		return -1;
	if (authkey_write_all(fd, text, sizeof text) == -1) {
		xasprintf(cause, "write: %s", strerror(errno));
		rv = -1;
	}
	OPENSSL_cleanse(text, sizeof text);
	return rv;
}

/* Write a key into the new file fd, mode 0600 whatever the umask. */
static int
authkey_fill(int fd, const char *path, char **cause)
{
	char	*why = NULL;

	if (fchmod(fd, 0600) == -1) {
		xasprintf(cause, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	if (authkey_write_fd(fd, &why) == -1) {
		xasprintf(cause, "%s: %s", path, why);
		free(why);
		return -1;
	}
	if (fsync(fd) == -1) {
		xasprintf(cause, "%s: fsync: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create path directly with O_EXCL (file systems without link()). */
static int
authkey_create_excl(const char *path, char **cause)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			xasprintf(cause, "%s: already exists", path);
		else
			xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (authkey_fill(fd, path, cause) == -1) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) == -1) {
		xasprintf(cause, "%s: close: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

/*
 * Write a new random key to path, which must not exist. Returns 0, or -1
 * with cause set ("PATH: already exists" when it does).
 */
int
authkey_generate(const char *path, char **cause)
{
	char	*tmp;
	int	 fd, saved;

	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (authkey_fill(fd, tmp, cause) == -1) {
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		xasprintf(cause, "%s: close: %s", tmp, strerror(errno));
		goto fail;
	}
	if (link(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		free(tmp);
		if (saved == EPERM || saved == EOPNOTSUPP || saved == ENOSYS)
			return authkey_create_excl(path, cause);
		if (saved == EEXIST)
			xasprintf(cause, "%s: already exists", path);
		else
			xasprintf(cause, "%s: %s", path, strerror(saved));
		return -1;
	}
	unlink(tmp);
	free(tmp);
	return 0;

fail:
	unlink(tmp);
	free(tmp);
	return -1;
}

/* Is c whitespace in the sense of Python's bytes.strip()? */
static int
authkey_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* Check who may read or change the key file st describes. */
static int
authkey_check_stat(const struct stat *st, const char *path, char **cause)
{
	if (!S_ISREG(st->st_mode)) {
		xasprintf(cause, "%s: authkey file is not a regular file",
		    path);
		return -1;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		xasprintf(cause, "%s: authkey file is owned by uid %lu, not by "
		    "mpsup's user (uid %lu) or root (chown it)", path,
		    (unsigned long)st->st_uid, (unsigned long)geteuid());
		return -1;
	}
	if (st->st_mode & (S_IRGRP | S_IROTH)) {
		xasprintf(cause, "%s: authkey file is readable by group or "
		    "others (chmod 600)", path);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		xasprintf(cause, "%s: authkey file is writable by group or "
		    "others (chmod 600)", path);
		return -1;
	}
	return 0;
}

/* Read and check an open key file. */
static int
authkey_read(int fd, const char *path, unsigned char **key, size_t *len,
    char **cause)
{
	struct stat	 st;
	char		 data[AUTHKEY_FILE_MAX + 1];
	size_t		 n = 0;
	ssize_t		 r;
	int		 rv = -1;

	if (fstat(fd, &st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (authkey_check_stat(&st, path, cause) == -1)
		return -1;
	while (n < sizeof data) {
		r = read(fd, data + n, sizeof data - n);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += r;
	}
	if (n > AUTHKEY_FILE_MAX) {
		xasprintf(cause, "%s: authkey file is too large (more than %d "
		    "bytes)", path, AUTHKEY_FILE_MAX);
		goto out;
	}
	while (n > 0 && authkey_space(data[n - 1]))
		n--;
	if (n == 0) {
		xasprintf(cause, "%s: authkey file is empty", path);
		goto out;
	}
	if (n < AUTHKEY_MIN_LEN) {
		xasprintf(cause, "%s: authkey is too short (%zu bytes, at "
		    "least %d needed)", path, n, AUTHKEY_MIN_LEN);
		goto out;
	}
	*key = xmalloc(n);
	memcpy(*key, data, n);
	*len = n;
	rv = 0;
out:
	OPENSSL_cleanse(data, sizeof data);
	return rv;
}

/*
 * Load the key from path into *key (allocated; free it with
 * authkey_free()) and *len. With create, a missing file is first created
 * with a new random key. Returns 0, or -1 with cause naming the file.
 */
int
authkey_load(const char *path, int create, unsigned char **key, size_t *len,
    char **cause)
{
	char	*why;
	int	 fd, rv;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		if (authkey_generate(path, &why) == -1) {
			/* Another process may have just created it. */
			fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
			    O_CLOEXEC);
			if (fd == -1) {
				*cause = why;
				return -1;
			}
			free(why);
		} else
			fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
			    O_CLOEXEC);
	}
	if (fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	rv = authkey_read(fd, path, key, len, cause);
	close(fd);
	return rv;
}

/* Wipe and free a key from authkey_load(). */
void
authkey_free(unsigned char *key, size_t len)
{
	if (key == NULL)
		return;
	OPENSSL_cleanse(key, len);
	free(key);
}

/* True if two keys are the same; equal lengths compare in constant time. */
int
authkey_equal(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/*
 * The error for two clients whose key files hold the same key (a client
 * could then not be told from the other), at the line of b's key.
 */
char *
authkey_same_message(const struct config *cfg, const struct client_config *a,
    const struct client_config *b)
{
	char	*msg, *la, *lb;

	la = config_client_key_label(a);
	lb = config_client_key_label(b);
	xasprintf(&msg, "%s:%d: %s: %s holds the same key as %s %s (give "
	    "each client a key of its own: mpsup keygen)", cfg->path, b->line,
	    lb, b->authkey_file, la, a->authkey_file);
	free(la);
	free(lb);
	return msg;
}

/*
 * For `mpsup check`: -1 with *msg set if two clients' key files hold the
 * same key. Files that cannot be read are not compared (the supervisor
 * reports them when it starts).
 */
int
authkey_check_distinct(const struct config *cfg, char **msg)
{
	unsigned char	**keys;
	size_t		 *lens, i, j;
	char		 *cause;
	int		  rv = 0;

	keys = xcalloc(cfg->nclients, sizeof *keys);
	lens = xcalloc(cfg->nclients, sizeof *lens);
	for (i = 0; i < cfg->nclients && rv == 0; i++) {
		if (authkey_load(cfg->clients[i]->authkey_file, 0, &keys[i],
		    &lens[i], &cause) == -1) {
			free(cause);
			keys[i] = NULL;
			continue;
		}
		for (j = 0; j < i && rv == 0; j++)
			if (keys[j] != NULL && authkey_equal(keys[j], lens[j],
			    keys[i], lens[i])) {
				*msg = authkey_same_message(cfg,
				    cfg->clients[j], cfg->clients[i]);
				rv = -1;
			}
	}
	for (i = 0; i < cfg->nclients; i++)
		authkey_free(keys[i], lens[i]);
	free(keys);
	free(lens);
	return rv;
}
