/*
 * Optional libraries, loaded when used (see dynlib.h).
 *
 * RTLD_NOW resolves everything at load, so a library that is the wrong
 * one fails here, with a message, not at its first call; RTLD_LOCAL keeps
 * its symbols from those of any other library loaded later. A library is
 * never unloaded: the process keeps it until it exits.
 */
#include "config.h"

#include <dlfcn.h>
#include <stddef.h>

#include "common/dynlib.h"
#include "common/xmalloc.h"

int
dynlib_load(const char *soname, const char *why,
    const struct dynlib_sym *syms, size_t nsyms, char **cause)
{
	void		*h;
	const char	*e;
	size_t		 i;

	if ((h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		xasprintf(cause, "cannot load %s (for %s): %s", soname, why,
		    e != NULL ? e : "unknown error");
		return -1;
	}
	for (i = 0; i < nsyms; i++) {
		(void)dlerror();
		/* POSIX's way to a function pointer from dlsym(). */
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot == NULL) {
			e = dlerror();
			xasprintf(cause, "cannot load %s (for %s): no %s: %s",
			    soname, why, syms[i].name,
			    e != NULL ? e : "no such symbol");
			while (i > 0)
				*syms[--i].slot = NULL;
			dlclose(h);
			return -1;
		}
	}
	return 0;
}
