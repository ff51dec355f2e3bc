/*
 * Files mpsup creates for itself (log, pidfile, store): opened without
 * following a symlink at the path, and given exactly the mode asked for
 * when created, whatever the umask.
 */
#ifndef MPSUP_COMMON_PRIVFILE_H
#define MPSUP_COMMON_PRIVFILE_H

#include <sys/types.h>

#define PRIVFILE_MODE	0600	/* unless a *_mode key says otherwise */

int	privfile_open(const char *, int, mode_t, char **);

#endif
