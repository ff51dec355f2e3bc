/*
 * Test helper for the pickle codec (ipc/pickle.h), driven by
 * tests/integration/test_pickle_python.py against real Python interpreters.
 *
 *   pickle_tool [-m max_out]            pickle on stdin -> JSON on stdout
 *   pickle_tool -e                      JSON on stdin -> pickle on stdout
 *   pickle_tool -b [-e] [-m max_out]    batch: one hex-encoded pickle (or,
 *                                       with -e, one JSON text) per line in,
 *                                       "OK <json>" ("OK <hex>") or
 *                                       "ERR <message>" per line out
 *
 * A single conversion that fails prints the message on stderr, exit 1.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "ipc/pickle.h"

static int
convert(int encode, size_t max_out, const char *in, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	if (encode)
		return pickle_from_json(in, len, out, err, errlen);
	return pickle_to_json(in, len, max_out, out, err, errlen);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One line per conversion; a line that is not hex is reported, not fatal. */
static int
batch(int encode, size_t max_out)
{
	struct buf	 in = BUF_INIT, out = BUF_INIT;
	char		*line = NULL, err[512], byte;
	size_t		 cap = 0, i, len;
	ssize_t		 n;
	int		 hi, lo;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		buf_reset(&in);
		buf_reset(&out);
		if (encode)
			buf_append(&in, line, len);
		else {
			for (i = 0; i + 1 < len; i += 2) {
				if ((hi = hexval(line[i])) < 0 ||
				    (lo = hexval(line[i + 1])) < 0)
					break;
				byte = (char)(hi << 4 | lo);
				buf_append(&in, &byte, 1);
			}
			if (i != len) {
				printf("ERR bad hex line\n");
				continue;
			}
		}
		if (convert(encode, max_out, in.data ? in.data : "", in.len,
		    &out, err, sizeof err) < 0) {
			printf("ERR %s\n", err);
			continue;
		}
		printf("OK ");
		if (encode) {
			for (i = 0; i < out.len; i++)
				printf("%02x", (unsigned char)out.data[i]);
		} else
			fwrite(out.data, 1, out.len, stdout);
		printf("\n");
	}
	free(line);
	buf_free(&in);
	buf_free(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct buf	 in = BUF_INIT, out = BUF_INIT;
	char		 err[512];
	size_t		 max_out = 0;
	ssize_t		 n;
	int		 ch, encode = 0, lines = 0;

	while ((ch = getopt(argc, argv, "bem:")) != -1) {
		switch (ch) {
		case 'b':
			lines = 1;
			break;
		case 'e':
			encode = 1;
			break;
		case 'm':
			max_out = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: pickle_tool [-be] [-m max_out]\n");
			return 2;
		}
	}
	if (lines)
		return batch(encode, max_out);
	while ((n = buf_read_fd(&in, 0, 1 << 16)) > 0)
		;
	if (n < 0) {
		perror("pickle_tool: stdin");
		return 2;
	}
	if (convert(encode, max_out, in.data ? in.data : "", in.len, &out, err,
	    sizeof err) < 0) {
		fprintf(stderr, "pickle_tool: %s\n", err);
		return 1;
	}
	if (fwrite(out.data ? out.data : "", 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0)
		return 2;
	buf_free(&in);
	buf_free(&out);
	return 0;
}
