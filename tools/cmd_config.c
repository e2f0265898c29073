/*
 * `scsikit config save [FILE]` and `scsikit iscsi ...`: a running daemon's
 * configuration changed and saved, as targetcli and tgtadm users do.  Both
 * relay to the control socket (docs/control-socket.md); what they add is
 * keeping secrets out of `ps` and writing the saved file safely:
 *
 *   - `iscsi chap set TARGET USER --secret-file F` reads the secret from F
 *     (its first line; "-" is standard input), never from the command line;
 *   - `config save FILE` writes FILE mode 0600 (it may hold CHAP secrets),
 *     through a temporary file renamed over it, so a reader never sees half
 *     a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "ctl_client.h"

#define SECRET_MAX 256

static void config_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit config [--socket PATH] save [FILE]\n"
		"Print the running daemon's configuration (disks, front-end\n"
		"options, iSCSI targets, LUN maps, ACLs, CHAP, portals) as a\n"
		"config file, or write it to FILE (mode 0600: it may hold CHAP\n"
		"secrets).  'scsikit serve --config FILE' restores it.\n");
}

static void iscsi_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit iscsi [--socket PATH] REQUEST\n"
		"  acl add|remove TARGET INITIATOR\n"
		"  chap set TARGET USER --secret-file FILE\n"
		"  chap clear TARGET\n"
		"  mutual-chap set TARGET USER --secret-file FILE\n"
		"  mutual-chap clear TARGET\n"
		"  lun map TARGET N DISK | lun unmap TARGET N\n"
		"  portal add|remove HOST:PORT\n"
		"  sessions | targets | portals | config\n"
		"TARGET is a disk's name ('*': every target; 'discovery' for\n"
		"CHAP of discovery sessions).  The secret is the first line of\n"
		"FILE ('-': standard input), so it never shows in 'ps'.\n"
		"Changes apply to logins that follow them.\n");
}

enum { OPT_SOCKET, OPT_JSON, OPT_HELP, OPT_SECRET_FILE };

const struct cli_opt iscsi_cmd_opts[] = {
	{ "secret-file", 0, CLI_STR, OPT_SECRET_FILE, "FILE", 0, 0,
	  "chap set: the secret is FILE's first line ('-': stdin)" },
	{ NULL },
};

const struct cli_opt config_cmd_opts[] = { { NULL } };

/*
 * The shared parser (src/daemon/cli_opt.h) over argv: the client options,
 * plus own (may be NULL).  Positional words go to args (room for max).
 * Returns their number, or -(exit status + 1) when the command is over:
 * -1 after --help (exit 0), -3 after a usage error (exit 2).
 */
static int common_opts(int argc, char **argv, const char *prog,
		       const struct cli_opt *own, const char **sock,
		       const char **secret_file, bool *json, char **args,
		       int max, void (*usage)(FILE *))
{
	struct cli_parser p;
	struct cli_val v;
	int id;

	cli_init(&p, prog, argc, argv, 1, args, max);
	if (own)
		cli_add_table(&p, own);
	cli_add_table(&p, cli_client_opts);
	while ((id = cli_next(&p, &v)) != CLI_END) {
		switch (id) {
		case CLI_ERROR:
			return -(cli_usage_error(prog, "%s", p.err) + 1);
		case OPT_SOCKET:
			*sock = v.str;
			break;
		case OPT_JSON:
			if (!json)
				return -(cli_usage_error(prog, "--json: "
					"there is nothing to list") + 1);
			*json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return -(CLI_EXIT_OK + 1);
		case OPT_SECRET_FILE:
			*secret_file = v.str;
			break;
		}
	}
	return p.npos;
}

static int exit_status(int rc)
{
	return rc == 0 ? 0 : rc == 1 ? 1 : 3;
}

/* The first line of path ("-": stdin), without its newline; 0 or -1. */
static int read_secret(const char *path, char *buf, size_t len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "scsikit iscsi: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1 && !feof(f)) {
		fprintf(stderr, "scsikit iscsi: %s: secret longer than %d "
				"bytes\n", path, SECRET_MAX);
		n = 0;
		buf[0] = '\0';
	}
	buf[n] = '\0';
	if (f != stdin)
		fclose(f);
	if (n == 0) {
		fprintf(stderr, "scsikit iscsi: %s: no secret on its first "
				"line\n", path);
		return -1;
	}
	return 0;
}

int cmd_iscsi_main(int argc, char **argv)
{
	static const char prog[] = "scsikit iscsi";
	const char *sock = ctl_default_socket(), *secret_file = NULL;
	char *args[16];
	char secret[SECRET_MAX + 2];
	bool chap_set, json = false;
	int n, rc;

	args[0] = "iscsi";
	n = common_opts(argc, argv, prog, iscsi_cmd_opts, &sock, &secret_file,
			&json, args + 1, 13, iscsi_usage);
	if (n < 0)
		return -n - 1;
	if (n == 0)
		return cli_usage_error(prog, "which request? (see --help)");
	n++;
	chap_set = n >= 3 && strcmp(args[2], "set") == 0 &&
		   (strcmp(args[1], "chap") == 0 ||
		    strcmp(args[1], "mutual-chap") == 0);
	if (chap_set != (secret_file != NULL) || (chap_set && n != 5)) {
		return cli_usage_error(prog, "%s",
			chap_set ? "chap set takes TARGET USER and "
				   "--secret-file FILE"
				 : "--secret-file is for chap set only");
	}
	if (json)
		args[n++] = "--json";
	if (chap_set) {
		if (read_secret(secret_file, secret, sizeof(secret)) < 0)
			return 1;
		args[n++] = secret;
	}
	rc = ctl_call(sock, n, args, stdout);
	memset(secret, 0, sizeof(secret));
	return exit_status(rc);
}

/* Write body to path, mode 0600, through path.tmp renamed over it. */
static int write_private(const char *path, const char *body, size_t len)
{
	char tmp[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "scsikit config: %s: path too long\n", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		goto out_err;
	/* An existing file of that name may have had a wider mode. */
	if (fchmod(fd, 0600) < 0)
		goto out_close;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, body + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out_close;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto out_unlink;
	}
	if (rename(tmp, path) < 0)
		goto out_unlink;
	return 0;

out_close:
	close(fd);
out_unlink:
	unlink(tmp);
out_err:
	fprintf(stderr, "scsikit config: %s: %s\n", path, strerror(errno));
	return -1;
}

int cmd_config_main(int argc, char **argv)
{
	static const char prog[] = "scsikit config";
	const char *sock = ctl_default_socket();
	char *args[3];
	char *req[2] = { "config", "save" };
	char *body = NULL;
	size_t blen = 0;
	FILE *mem;
	int n, rc;

	n = common_opts(argc, argv, prog, config_cmd_opts, &sock, NULL, NULL,
			args, 3, config_usage);
	if (n < 0)
		return -n - 1;
	if (n < 1 || n > 2 || strcmp(args[0], "save") != 0)
		return cli_usage_error(prog, "expected: save [FILE] "
				       "(see --help)");
	if (n == 1)
		return exit_status(ctl_call(sock, 2, req, stdout));
	mem = open_memstream(&body, &blen);
	if (mem == NULL) {
		fprintf(stderr, "scsikit config: out of memory\n");
		return 1;
	}
	rc = ctl_call(sock, 2, req, mem);
	fclose(mem);
	if (rc == 0 && write_private(args[1], body, blen) < 0)
		rc = 1;
	if (body != NULL)
		memset(body, 0, blen);
	free(body);
	return exit_status(rc);
}
