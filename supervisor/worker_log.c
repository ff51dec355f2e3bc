/*
 * A worker's log pipe (see worker_log.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <unistd.h>

#include "common/linebuf.h"
#include "common/xmalloc.h"
#include "supervisor/output.h"
#include "supervisor/worker_log.h"

struct worker_log {
	struct worker		*w;
	struct ev_loop		*loop;
	enum output_stream	 which;
	int			 fd;
	int			 paused;	/* on worker_logs_paused */
	ev_io			 io;
	struct linebuf		 lines;
	TAILQ_ENTRY(worker_log)	 entry;
};

/* Pipes not watched while the output log catches up. */
static TAILQ_HEAD(, worker_log) worker_logs_paused =
    TAILQ_HEAD_INITIALIZER(worker_logs_paused);

static void	worker_log_cb(struct ev_loop *, ev_io *, int);

/* The output log caught up: watch every pipe again. */
static void
worker_log_resume(void)
{
	struct worker_log	*wl;

	while ((wl = TAILQ_FIRST(&worker_logs_paused)) != NULL) {
		TAILQ_REMOVE(&worker_logs_paused, wl, entry);
		wl->paused = 0;
		ev_io_start(wl->loop, &wl->io);
	}
}

struct worker_log *
worker_log_open(struct worker *w, struct ev_loop *loop, int fd,
    enum output_stream which, size_t max_line)
{
	struct worker_log	*wl = xcalloc(1, sizeof *wl);

	wl->w = w;
	wl->loop = loop;
	wl->which = which;
	wl->fd = fd;
	linebuf_init(&wl->lines, max_line);
	ev_io_init(&wl->io, worker_log_cb, fd, EV_READ);
	wl->io.data = wl;
	output_on_resume(worker_log_resume);
	if (output_congested()) {
		wl->paused = 1;
		TAILQ_INSERT_TAIL(&worker_logs_paused, wl, entry);
	} else
		ev_io_start(loop, &wl->io);
	return wl;
}

/* Write every whole line buffered (and with eof, a last partial one). */
static void
worker_log_drain(struct worker_log *wl, int eof)
{
	struct output_tag	 tag;
	const char		*line;
	size_t			 len;
	int			 flags;
	double			 now = ev_now(wl->loop);

	worker_log_tag(wl->w, &tag);
	while (linebuf_next(&wl->lines, eof, &line, &len, &flags))
		output_line(&tag, wl->which, line, len, flags, now);
}

void
worker_log_close(struct worker_log *wl, int drain)
{
	if (drain)
		worker_log_drain(wl, 1);
	if (wl->paused)
		TAILQ_REMOVE(&worker_logs_paused, wl, entry);
	else
		ev_io_stop(wl->loop, &wl->io);
	close(wl->fd);
	linebuf_free(&wl->lines);
	free(wl);
}

static void
worker_log_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker_log	*wl = io->data;
	ssize_t			 n;

	n = linebuf_read(&wl->lines, wl->fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		struct worker		*w = wl->w;
		enum output_stream	 which = wl->which;

		worker_log_close(wl, 1);
		worker_log_ended(w, which);
		return;
	}
	worker_log_drain(wl, 0);
	if (output_congested()) {
		ev_io_stop(loop, &wl->io);
		wl->paused = 1;
		TAILQ_INSERT_TAIL(&worker_logs_paused, wl, entry);
	}
}

int
worker_log_read_now(struct worker_log *wl)
{
	ssize_t	n;

	for (;;) {
		n = linebuf_read(&wl->lines, wl->fd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			worker_log_close(wl, 1);
			return 1;
		}
		worker_log_drain(wl, 0);
	}
}
