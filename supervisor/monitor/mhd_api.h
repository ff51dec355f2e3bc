/*
 * libmicrohttpd, loaded when the status endpoint starts (common/dynlib.h):
 * the binary does not link it, so a supervisor without `status`, and
 * every run of the command line client, neither maps it nor GnuTLS.
 *
 * A file that calls libmicrohttpd includes this header after
 * <microhttpd.h>, and its calls, spelled as usual, go through the table
 * that mhd_api_load() fills. Every function called is listed below: one
 * left out fails the build, as it is not linked.
 */
#ifndef MPSUP_MHD_API_H
#define MPSUP_MHD_API_H

#include <microhttpd.h>

#define MHD_API_FUNCTIONS(X)						\
	X(MHD_start_daemon)						\
	X(MHD_stop_daemon)						\
	X(MHD_run)							\
	X(MHD_get_timeout)						\
	X(MHD_get_daemon_info)						\
	X(MHD_create_response_from_buffer)				\
	X(MHD_add_response_header)					\
	X(MHD_queue_response)						\
	X(MHD_destroy_response)						\
	X(MHD_lookup_connection_value)					\
	X(MHD_get_connection_values)

struct mhd_api {
#define MHD_API_SLOT(f)	__typeof__(f) *f;
	MHD_API_FUNCTIONS(MHD_API_SLOT)
#undef MHD_API_SLOT
};
extern struct mhd_api	mhd_api;

/* Load the library once; -1 and *cause if it cannot be. */
int	mhd_api_load(char **cause);

#ifndef MHD_API_DEFINE
#define MHD_start_daemon		(mhd_api.MHD_start_daemon)
#define MHD_stop_daemon			(mhd_api.MHD_stop_daemon)
#define MHD_run				(mhd_api.MHD_run)
#define MHD_get_timeout			(mhd_api.MHD_get_timeout)
#define MHD_get_daemon_info		(mhd_api.MHD_get_daemon_info)
#define MHD_create_response_from_buffer	(mhd_api.MHD_create_response_from_buffer)
#define MHD_add_response_header		(mhd_api.MHD_add_response_header)
#define MHD_queue_response		(mhd_api.MHD_queue_response)
#define MHD_destroy_response		(mhd_api.MHD_destroy_response)
#define MHD_lookup_connection_value	(mhd_api.MHD_lookup_connection_value)
#define MHD_get_connection_values	(mhd_api.MHD_get_connection_values)
#endif

#endif
