/*
 * `scsikit attach`: ask a running daemon to import network disks.
 *
 *   scsikit attach [--socket PATH] xdisk://HOST:PORT[,HOST:PORT...][,failfast]
 *   scsikit attach [--socket PATH] --detach [ID]
 *   scsikit attach [--socket PATH] --list [--json]
 *
 * The daemon's xdisk client does the work ("xdisk attach URL" on the
 * control socket); the xaN disks it creates are then exported by every
 * front end of that daemon.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ctl_client.h"

enum { OPT_SOCKET, OPT_JSON, OPT_HELP, OPT_DETACH, OPT_LIST };

const struct cli_opt attach_opts[] = {
	{ "detach", 0, CLI_FLAG, OPT_DETACH, NULL, 0, 0,
	  "detach attach ID (every attach without ID)" },
	{ "list", 0, CLI_FLAG, OPT_LIST, NULL, 0, 0,
	  "list attaches, links and disks" },
	{ NULL },
};

static void attach_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit attach [--socket PATH] "
		"xdisk://HOST:PORT[,HOST:PORT...][,failfast]\n"
		"       scsikit attach [--socket PATH] --detach [ID]\n"
		"       scsikit attach [--socket PATH] --list [--json]\n"
		"Every server listed is a path to the disks it exports; spans "
		"with one label\nmake one xaN disk.  failfast: I/O fails when "
		"no path is left instead of waiting.\n");
}

int cmd_attach_main(int argc, char **argv)
{
	static const char prog[] = "scsikit attach";
	const char *sock = ctl_default_socket();
	bool json = false, detach = false, list = false;
	char *pos[2], *req[4];
	struct cli_parser p;
	struct cli_val v;
	int id, n = 0;

	cli_init(&p, prog, argc, argv, 1, pos, 2);
	cli_add_table(&p, attach_opts);
	cli_add_table(&p, cli_client_opts);
	while ((id = cli_next(&p, &v)) != CLI_END) {
		switch (id) {
		case CLI_ERROR:
			return cli_usage_error(prog, "%s", p.err);
		case OPT_SOCKET:
			sock = v.str;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			attach_usage(stdout);
			return CLI_EXIT_OK;
		case OPT_DETACH:
			detach = true;
			break;
		case OPT_LIST:
			list = true;
			break;
		}
	}
	req[n++] = "xdisk";
	if (detach + list > 1)
		return cli_usage_error(prog, "--detach and --list exclude "
					     "each other");
	if (json && !list)
		return cli_usage_error(prog, "--json goes with --list");
	if (detach) {
		if (p.npos > 1)
			return cli_usage_error(prog, "--detach takes one ID");
		req[n++] = "detach";
		if (p.npos == 1)
			req[n++] = pos[0];
	} else if (list) {
		if (p.npos)
			return cli_usage_error(prog, "--list takes no "
						     "argument");
		req[n++] = "list";
		if (json)
			req[n++] = "--json";
	} else if (p.npos == 1 && !strncmp(pos[0], "xdisk://", 8)) {
		req[n++] = "attach";
		req[n++] = pos[0];
	} else if (p.npos == 0) {
		attach_usage(stderr);
		return CLI_EXIT_USAGE;
	} else {
		return cli_usage_error(prog, "expected one xdisk:// URL, got "
					     "'%s'", pos[0]);
	}
	return ctl_call_exit(sock, n, req);
}
