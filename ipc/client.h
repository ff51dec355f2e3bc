/*
 * A small blocking client of the mpsup listener, for the CLI and the tests:
 * connect and authenticate, then exchange frames.
 *
 * For streaming many requests, queue frames with ipc_client_queue() and
 * either flush them (ipc_client_flush()) or, to avoid the classic deadlock
 * of both ends blocked writing, poll ipc_client_fd() and interleave
 * ipc_client_try_flush() with ipc_client_try_recv().
 */
#ifndef MPSUP_CLIENT_H
#define MPSUP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/auth.h"

struct ipc_client;

/* ipc_client_connect() flags. */
#define IPC_CLIENT_LEGACY	AUTH_CLIENT_LEGACY

struct ipc_client	*ipc_client_connect(const char *,
			    const unsigned char *, size_t, int, char **);
struct ipc_client	*ipc_client_open(int);
int			 ipc_client_fd(const struct ipc_client *);
int			 ipc_client_set_timeout(struct ipc_client *, int);
int			 ipc_client_send(struct ipc_client *, const void *,
			    size_t);
int			 ipc_client_recv(struct ipc_client *, char **,
			    size_t *, uint64_t, char **);
void			 ipc_client_queue(struct ipc_client *, const void *,
			    size_t);
size_t			 ipc_client_pending(const struct ipc_client *);
int			 ipc_client_flush(struct ipc_client *);
int			 ipc_client_try_flush(struct ipc_client *);
int			 ipc_client_try_recv(struct ipc_client *, char **,
			    size_t *, uint64_t, char **);
void			 ipc_client_close(struct ipc_client *);

#endif
