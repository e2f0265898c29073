/*
 * Subcommands that only relay to a running daemon: disk, stats, trace,
 * status, shutdown and the raw "ctl".  Each takes --socket PATH (default:
 * the daemon's default control socket) and --json where the daemon offers
 * it; options may come anywhere.  What each accepts is checked here, so a
 * malformed command is a usage error (exit 2) before the daemon is asked.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ctl_client.h"

enum { OPT_SOCKET, OPT_JSON, OPT_HELP };

const struct cli_opt cli_client_opts[] = {
	{ "socket", 0, CLI_STR, OPT_SOCKET, "PATH", 0, 0,
	  "the daemon's control socket" },
	{ "json", 0, CLI_FLAG, OPT_JSON, NULL, 0, 0,
	  "machine-readable output" },
	{ "help", 'h', CLI_FLAG, OPT_HELP, NULL, 0, 0, "this text" },
	{ NULL },
};

/* The relaying commands take no options of their own. */
const struct cli_opt ctl_opts[] = { { NULL } };

/* What each relaying command accepts: a verb (or none) and how many
 * words may follow the command's name. */
struct relay {
	const char *cmd;
	const char *usage;
	int min_words, max_words;	/* positional words */
	bool json;			/* --json is meaningful */
};

static const struct relay relays[] = {
	{ "disk",
	  "usage: scsikit disk [--socket PATH] list [--json]\n"
	  "       scsikit disk [--socket PATH] add NAME SPEC\n"
	  "       scsikit disk [--socket PATH] remove NAME\n"
	  "       scsikit disk [--socket PATH] fault NAME RULE\n"
	  "       scsikit disk [--socket PATH] eject NAME\n"
	  "       scsikit disk [--socket PATH] load NAME [FILE|SPEC]\n"
	  "SPEC as for 'scsikit serve --disk': mem:SIZE, "
	  "file:PATH[,direct][,size=SIZE] or\n"
	  "rbd:POOL/IMAGE[@SNAP][,conf=PATH][,id=CLIENT], ,ro for "
	  "read-only,\n"
	  ",removable or ,cdrom for a drive whose medium eject and load "
	  "swap.\n"
	  "Every front end of the daemon exports a disk as soon as it is "
	  "added.\n",
	  1, 3, true },
	{ "stats", "usage: scsikit stats [--socket PATH] [DISK] [--json]\n",
	  0, 1, true },
	{ "trace",
	  "usage: scsikit trace [--socket PATH] [CATEGORIES] [--json]\n"
	  "CATEGORIES: comma list of pdu,cdb,xpt,probe,dmsg,nbd,bdev,vscsi,"
	  "ctl, or all, or none\n",
	  0, 1, true },
	{ "status", "usage: scsikit status [--socket PATH] [--json]\n", 0, 0,
	  true },
	{ "shutdown", "usage: scsikit shutdown [--socket PATH]\n", 0, 0,
	  false },
	{ "alua",
	  "usage: scsikit alua [--socket PATH] list [--json]\n"
	  "       scsikit alua [--socket PATH] set GROUP STATE\n"
	  "       scsikit alua [--socket PATH] add-group ID STATE [RTPI,...]\n"
	  "       scsikit alua [--socket PATH] add-peer ID STATE RTPI,...\n"
	  "STATE: active/optimized (ao), active/non-optimized (an), standby,\n"
	  "unavailable, transitioning.  Every I_T nexus gets ASYMMETRIC ACCESS\n"
	  "STATE CHANGED when a state changes (docs/multipath.md).\n",
	  1, 4, true },
	{ "fault",
	  "usage: scsikit fault [--socket PATH] link add SPEC\n"
	  "       scsikit fault [--socket PATH] link list\n"
	  "       scsikit fault [--socket PATH] link clear [ID]\n"
	  "SPEC: drop|delay=MS|stall|corrupt[,front=iscsi+nbd+xdisk+"
	  "iscsi-initiator+xdisk-client|all]\n"
	  "      [,peer=HOST[:PORT]][,dir=rx|tx|both][,after=SIZE|pdus=N]"
	  "[,count=N]\n"
	  "It hits connections made after it is added "
	  "(docs/control-socket.md).\n",
	  2, 3, false },
	{ "ctl",
	  "usage: scsikit ctl [--socket PATH] [--json] REQUEST...\n"
	  "Sends REQUEST to the daemon's control socket as is (see "
	  "docs/control-socket.md);\nwords of REQUEST that begin with '-' are "
	  "sent as they are.\n",
	  1, 62, true },
};

/* The verbs of "disk" and the words each takes after the verb. */
static const struct {
	const char *verb;
	int min_words, max_words;
} disk_verbs[] = {
	{ "list", 0, 0 }, { "add", 2, 2 }, { "remove", 1, 1 },
	{ "fault", 2, 2 }, { "eject", 1, 1 }, { "load", 1, 2 },
};

static int check_disk(const char *prog, char **pos, int npos)
{
	for (size_t i = 0; i < sizeof(disk_verbs) / sizeof(disk_verbs[0]); i++)
		if (strcmp(pos[0], disk_verbs[i].verb) == 0) {
			if (npos - 1 < disk_verbs[i].min_words ||
			    npos - 1 > disk_verbs[i].max_words)
				return cli_usage_error(
					prog, "wrong number of arguments for "
					"'disk %s' (see --help)", pos[0]);
			return 0;
		}
	return cli_usage_error(prog, "unknown disk command '%s' (list, add, "
				     "remove, fault, eject, load)", pos[0]);
}

int cmd_ctl_main(int argc, char **argv)
{
	const struct relay *r = &relays[sizeof(relays) / sizeof(relays[0]) - 1];
	const char *sock = ctl_default_socket();
	char prog[64], *pos[64], *req[66], *abs = NULL;
	struct cli_parser p;
	struct cli_val v;
	bool json = false;
	int id, n = 0, rc;

	for (size_t i = 0; i < sizeof(relays) / sizeof(relays[0]); i++)
		if (strcmp(argv[0], relays[i].cmd) == 0)
			r = &relays[i];
	snprintf(prog, sizeof(prog), "scsikit %s", r->cmd);
	cli_init(&p, prog, argc, argv, 1, pos, 63);
	cli_add_table(&p, cli_client_opts);
	p.raw_after_pos = strcmp(r->cmd, "ctl") == 0;
	while ((id = cli_next(&p, &v)) != CLI_END) {
		switch (id) {
		case CLI_ERROR:
			return cli_usage_error(prog, "%s", p.err);
		case OPT_SOCKET:
			sock = v.str;
			break;
		case OPT_JSON:
			if (!r->json)
				return cli_usage_error(prog, "--json: there is "
							     "nothing to list");
			json = true;
			break;
		case OPT_HELP:
			fputs(r->usage, stdout);
			return CLI_EXIT_OK;
		}
	}
	if (p.npos < r->min_words || p.npos > r->max_words) {
		fputs(r->usage, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(r->cmd, "disk") == 0 && check_disk(prog, pos, p.npos))
		return CLI_EXIT_USAGE;
	if (strcmp(r->cmd, "ctl") != 0)
		req[n++] = (char *)r->cmd;
	for (int i = 0; i < p.npos; i++)
		req[n++] = pos[i];
	if (json)
		req[n++] = "--json";
	/* `disk load NAME FILE`: the daemon has its own working directory,
	 * so a bare file path goes to it absolute. */
	if (strcmp(r->cmd, "disk") == 0 && n == 4 &&
	    strcmp(req[1], "load") == 0 && req[3][0] != '/' &&
	    strncmp(req[3], "mem:", 4) != 0 &&
	    strncmp(req[3], "file:", 5) != 0) {
		abs = realpath(req[3], NULL);
		if (abs == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, req[3],
				strerror(errno));
			return CLI_EXIT_USAGE;
		}
		req[3] = abs;
	}
	rc = ctl_call_exit(sock, n, req);
	free(abs);
	return rc;
}
