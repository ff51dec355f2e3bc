/*
 * Opening the files mpsup writes (see privfile.h).
 *
 * A new file is made with O_EXCL and then fchmod()ed to the mode, so the
 * umask cannot widen or narrow it. An existing file keeps the mode it has:
 * the operator may have chosen it (logrotate's "create 0640"), and mpsup
 * does not silently change what someone else set; it says so in the log
 * when that mode lets more people in than the configured one. A symlink at
 * the path is refused (O_NOFOLLOW), so another user who can write the
 * folder cannot point mpsup's output at a file of their choice.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privfile.h"
#include "common/xmalloc.h"

/* Set *cause for a failed open of path; errno stays err. */
static void
privfile_cause(const char *path, int err, char **cause)
{
	if (err == ELOOP)
		xasprintf(cause, "%s: is a symbolic link (refused: mpsup does "
		    "not write through one; name the real file)", path);
	else
		xasprintf(cause, "%s: %s", path, strerror(err));
	errno = err;
}

/*
 * Open path with flags (O_WRONLY or O_RDWR and the like; O_CREAT, O_EXCL,
 * O_NOFOLLOW and O_CLOEXEC are added), creating it with exactly mode.
 * Returns the fd, or -1 with errno set and cause naming the path.
 */
int
privfile_open(const char *path, int flags, mode_t mode, char **cause)
{
	struct stat	st;
	int		fd, tries;

	flags |= O_NOFOLLOW | O_CLOEXEC;
	for (tries = 0; tries < 3; tries++) {
		fd = open(path, flags | O_CREAT | O_EXCL, mode);
		if (fd != -1) {
			if (fchmod(fd, mode) == -1) {
				privfile_cause(path, errno, cause);
				close(fd);
				unlink(path);
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			break;
		/* O_EXCL also says EEXIST for a symlink: O_NOFOLLOW tells. */
		fd = open(path, flags, 0);
		if (fd != -1) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			    (st.st_mode & 0777 & ~mode) != 0)
				log_warnx("%s: mode %04o lets in more than the "
				    "configured %04o (chmod it if that is not "
				    "meant)", path, (unsigned)(st.st_mode &
				    0777), (unsigned)mode);
			return fd;
		}
		if (errno != ENOENT)
			break;
	}
	privfile_cause(path, errno, cause);
	return -1;
}
