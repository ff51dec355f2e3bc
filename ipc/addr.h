/*
 * Listen and connect addresses as written in the config and on the command
 * line (SPEC section 3, "listen"): unix:PATH, HOST:PORT, [V6]:PORT.
 */
#ifndef MPSUP_ADDR_H
#define MPSUP_ADDR_H

#include <sys/types.h>
#include <sys/socket.h>

struct addr {
	int			 family;	/* AF_UNIX, AF_INET(6) */
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			*display;	/* the spec as given */
};

#define ADDR_CONNECT_TIMEOUT_MS	10000
#define ADDR_UNIX_MODE		0660	/* listening socket file */

int	 addr_parse(const char *, struct addr *, char **);
void	 addr_free(struct addr *);
int	 addr_listen(const struct addr *, int, char **);
void	 addr_unlink(const struct addr *);
int	 addr_connect(const struct addr *, char **);
char	*addr_sockname(int);

#endif
