/*
 * Optional libraries, loaded when the configuration first needs them.
 *
 * A library linked into the binary is mapped, relocated and initialised
 * at every exec of mpsup, the command line client included, whether the
 * configuration uses it or not; libmicrohttpd brings GnuTLS and eight
 * more with it, about 2 ms of a start (bench/README.md, "Loaded when
 * used"). A module that uses such a library lists the functions it calls
 * in a table of pointers and loads it once with dynlib_load(), by the
 * file name configure found (config.h).
 */
#ifndef MPSUP_DYNLIB_H
#define MPSUP_DYNLIB_H

#include <stddef.h>

/* One function to resolve: its name, and where its address goes. */
struct dynlib_sym {
	const char	 *name;
	void		**slot;
};

/*
 * Load soname and fill every slot. On failure nothing stays loaded, every
 * slot is NULL, *cause says what failed (for why, e.g. "the status
 * endpoint"), and -1 is returned. Its caller loads a library once.
 */
int	dynlib_load(const char *soname, const char *why,
	    const struct dynlib_sym *, size_t nsyms, char **cause);

#endif
