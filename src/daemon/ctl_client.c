/*
 * Control-socket client: encodes a request line, reads the "OK <n>" /
 * "ERR <msg>" answer.  See serve_ctl.c for the protocol.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_opt.h"
#include "ctl_client.h"

const char *ctl_default_socket(void)
{
	static char path[108];
	const char *env = getenv("SCSIKIT_CTL");

	if (env && *env)
		return env;
	if (geteuid() == 0)
		return "/run/scsikit/ctl.sock";
	snprintf(path, sizeof(path), "/tmp/scsikit-%u/ctl.sock",
		 (unsigned)geteuid());
	return path;
}

/* Append word to buf with spaces, '%' and control bytes escaped. */
static int put_word(FILE *f, const char *w)
{
	if (!*w)
		return fputs("%00", f) < 0 ? -1 : 0; /* never sent empty */
	for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
		if (*p <= ' ' || *p == '%' || *p == 0x7f)
			fprintf(f, "%%%02X", *p);
		else
			fputc(*p, f);
	}
	return 0;
}

static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

int ctl_call(const char *sock_path, int argc, char **argv, FILE *out)
{
	struct sockaddr_un sun;
	char *req = NULL, line[1100];
	size_t reqlen = 0;
	FILE *f;
	int fd, rc = -1;

	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "scsikit: control socket path too long\n");
		return -1;
	}
	f = open_memstream(&req, &reqlen);
	if (!f)
		return -1;
	for (int i = 0; i < argc; i++) {
		if (i)
			fputc(' ', f);
		put_word(f, argv[i]);
	}
	fputc('\n', f);
	fclose(f);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out_free;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr,
			"scsikit: cannot reach the daemon at %s: %s (is "
			"'scsikit serve' running? --socket names another)\n",
			sock_path, strerror(errno));
		goto out_close;
	}
	for (size_t off = 0; off < reqlen;) {
		ssize_t n = write(fd, req + off, reqlen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "scsikit: control socket: %s\n",
				strerror(errno));
			goto out_close;
		}
		off += (size_t)n;
	}
	if (read_line(fd, line, sizeof(line)) < 0) {
		fprintf(stderr, "scsikit: the daemon closed the connection\n");
		goto out_close;
	}
	if (strncmp(line, "ERR ", 4) == 0) {
		fprintf(stderr, "scsikit: %s\n", line + 4);
		rc = 1;
	} else if (strncmp(line, "OK ", 3) == 0) {
		unsigned long long left = strtoull(line + 3, NULL, 10);
		char buf[65536];

		rc = 0;
		while (left > 0) {
			ssize_t n = read(fd, buf,
					 left < sizeof(buf) ? left : sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fprintf(stderr, "scsikit: answer cut short\n");
				rc = -1;
				break;
			}
			fwrite(buf, 1, (size_t)n, out);
			left -= (unsigned long long)n;
		}
	} else {
		fprintf(stderr, "scsikit: unexpected answer from the daemon\n");
	}
out_close:
	close(fd);
out_free:
	free(req);
	return rc;
}

int ctl_call_exit(const char *sock_path, int argc, char **argv)
{
	switch (ctl_call(sock_path, argc, argv, stdout)) {
	case 0:
		return CLI_EXIT_OK;
	case 1:
		return CLI_EXIT_FAIL;
	default:
		return CLI_EXIT_UNREACHABLE;
	}
}
