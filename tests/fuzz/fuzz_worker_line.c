/*
 * libFuzzer harness for the job-line parser of the C worker library
 * (worker/worker.c), which third parties link into their workers. The
 * input, after a first byte that picks the longest line accepted, is what
 * arrives on the job channel, read from an in-memory file through the
 * public API exactly as a worker does. Every job handed out must carry a
 * non-empty id and one valid JSON value as its data; each job is answered
 * (echoing its data, or failing it when the line was refused but had an
 * id), and each answer the library writes must be a result line that the
 * supervisor's own parser (ipc/jobline.c) accepts, for the same id, with
 * the same verdict: data nested deeper than a result may be is answered
 * as a failure by the library itself.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "ipc/jobline.h"
#include "ipc/jsontext.h"
#include "mpsup/worker.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* An answer we expect to read back. */
struct answer {
	char	*id;
	int	 ok;
};

/* An in-memory file holding p[0..n), positioned at its start. */
static int
fuzz_memfd(const void *p, size_t n)
{
	int	fd;

	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		abort();
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	return fd;
}

/* Deepest nesting of [ and { outside strings in valid JSON text. */
static int
json_depth(const char *p, size_t n)
{
	int	depth = 0, max = 0, in_string = 0;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (in_string) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = 0;
		} else if (p[i] == '"')
			in_string = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++depth > max)
				max = depth;
		} else if (p[i] == ']' || p[i] == '}')
			depth--;
	}
	return max;
}

/* The id as a JSON string decodes, escaped the way both sides escape. */
static char *
expected_id(const char *id)
{
	struct buf		 b = BUF_INIT;
	struct jsontext_span	 sp;
	char			*s;

	jsontext_string_append(&b, id, strlen(id));
	sp.p = buf_head(&b);
	sp.len = buf_used(&b);
	sp.type = JSONTEXT_STRING;
	s = jsontext_string_decode(&sp, NULL);
	CHECK(s != NULL);
	buf_free(&b);
	return s;
}

/* Read every answer back and match it to what was sent. */
static void
check_answers(int fd, struct answer *want, size_t nwant)
{
	struct jobline_result	 r;
	struct buf		 out = BUF_INIT;
	char			*line, *nl, *id, *end;
	size_t			 n = 0;
	ssize_t			 got;

	if (lseek(fd, 0, SEEK_SET) != 0)
		abort();
	for (;;) {
		buf_reserve(&out, 65536);
		got = read(fd, out.data + out.len, 65536);
		CHECK(got >= 0);
		if (got == 0)
			break;
		out.len += (size_t)got;
	}
	line = buf_head(&out);
	end = line + buf_used(&out);
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		CHECK(nl != NULL && n < nwant);
		CHECK(jobline_parse_result(line, (size_t)(nl - line), &r) == 0);
		CHECK(r.ok == want[n].ok);
		id = jsontext_string_decode(&r.id, NULL);
		CHECK(id != NULL && strcmp(id, want[n].id) == 0);
		if (!r.ok)
			CHECK(r.error.type == JSONTEXT_STRING);
		free(id);
		n++;
		line = nl + 1;
	}
	CHECK(n == nwant);
	buf_free(&out);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mpsup_worker	*w;
	struct mpsup_job	 job;
	struct answer		*want = NULL;
	size_t			 nwant = 0, i;
	int			 in, out, keep, r, depth = 0;

	if (size == 0)
		return 0;
	in = fuzz_memfd(data + 1, size - 1);
	out = fuzz_memfd(NULL, 0);
	if ((keep = dup(out)) == -1)
		abort();
	CHECK((w = mpsup_worker_open_fds(in, out)) != NULL);
	/* 0 is the default; otherwise short enough to hit the limit. */
	mpsup_worker_set_max_line(w, data[0] * 4);

	while ((r = mpsup_worker_next(w, &job)) != 0) {
		CHECK(r == 1 || r == -1);
		if (r == -1) {
			CHECK(job.error != NULL && job.data == NULL);
			if (job.id == NULL)
				continue;
		} else {
			CHECK(job.id != NULL && job.id[0] != '\0' &&
			    job.error == NULL);
			CHECK(job.data != NULL && job.data_len > 0 &&
			    job.data[job.data_len] == '\0');
			depth = json_depth(job.data, job.data_len);
			CHECK(depth <= JSONSCAN_MAX_DEPTH);
			CHECK(jsontext_valid(job.data, job.data_len));
		}
		want = realloc(want, (nwant + 1) * sizeof *want);
		CHECK(want != NULL);
		want[nwant].id = expected_id(job.id);
		/* Data too deep for a result is answered as a failure. */
		want[nwant].ok = r == 1 && depth <= JSONSCAN_RESULT_MAX_DEPTH;
		nwant++;
		if (r == 1)
			CHECK(mpsup_worker_reply(w, job.id, job.data,
			    job.data_len) == (want[nwant - 1].ok ? 0 : -1));
		else
			CHECK(mpsup_worker_fail(w, job.id, job.error) == 0);
	}
	CHECK(mpsup_worker_close(w) == 0);
	check_answers(keep, want, nwant);
	close(keep);
	for (i = 0; i < nwant; i++)
		free(want[i].id);
	free(want);
	return 0;
}
