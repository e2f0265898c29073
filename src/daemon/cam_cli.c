/*
 * `scsikit cam`: the CAM control tool, after FreeBSD's camcontrol (and
 * sg3_utils for the raw command form).
 *
 *   scsikit cam [--sim URL | --socket PATH] [--json] COMMAND [ARGS]
 *
 * With --sim (a SIM URL such as loop:targets=2,luns=2,size=64M) it builds
 * the stack in this process: an event loop on a thread of its own, the
 * SIM's bus, a scan, then the command.  With --socket (or neither: the
 * default control socket) the command goes to a running `scsikit serve`,
 * whose cam front end (serve_cam.c) runs the same code, cam_cli_exec(),
 * against the daemon's CAM buses.  This file: the usage, the helpers, the
 * options and the command table (see cam_cli.h).
 *
 * Devices are named BUS:TARGET:LUN, as camcontrol does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam_cli.h"
#include "json_out.h"

void cam_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: scsikit cam [--sim URL | --socket PATH] [--json] "
		"COMMAND [ARGS]\n"
		"commands (DEV is BUS:TARGET:LUN):\n"
		"  devlist [-v]                   list the devices of every bus\n"
		"  inquiry DEV                    standard INQUIRY and serial number\n"
		"  readcap DEV                    READ CAPACITY(16)\n"
		"  tur DEV                        TEST UNIT READY\n"
		"  reset bus BUS | reset dev DEV  bus reset / BUS DEVICE RESET\n"
		"  rescan [BUS|all]               scan for devices\n"
		"  read DEV --lba N --count N [--out FILE]\n"
		"  write DEV --lba N --count N [--in FILE | --pattern BYTE]\n"
		"  cmd DEV -c \"HEX CDB\" [-i LEN [--out FILE]] "
		"[-o LEN [--in FILE]]\n"
		"  tags DEV [-N OPENINGS] [-v]    device openings\n"
		"  negotiate DEV [-c|-u] [-T enable|disable] [-D enable|disable]\n"
		"            [-W WIDTH] [-O OFFSET] [-R PERIOD]\n"
		"  pathinq [BUS]                  the SIM's path inquiry\n"
		"  fault BUS SPEC|clear           loop SIM fault injection\n"
		"options (anywhere on the line): -C RETRIES (default 4), "
		"--timeout MS, --json, -v\n"
		"SIM URL: loop:[targets=N][,luns=N][,size=SIZE][,bs=512|4096]"
		"[,tags=N][,maxio=SIZE][,disk=NAME]...\n"
		"         iscsi://[USER%%SECRET@]HOST[:PORT]/[IQN[/LUN]]"
		"[?header_digest=crc32c&...]  (docs/iscsi-initiator.md)\n");
}


/* ---- small helpers ---- */

int cam_parse_dev(const char *s, uint32_t *b, uint32_t *t, uint64_t *l)
{
	unsigned long long bb, tt, ll;
	char tail;

	if (sscanf(s, "%llu:%llu:%llu%c", &bb, &tt, &ll, &tail) != 3 ||
	    bb > 0xffff || tt > 0xffff || ll > 0xffff)
		return -1;
	*b = (uint32_t)bb;
	*t = (uint32_t)tt;
	*l = ll;
	return 0;
}

int cam_parse_ll(const char *s, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 0);

	if (*s == '\0' || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

void cam_hexdump(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		fprintf(f, "%08zx ", off);
		for (size_t i = 0; i < 16; i++) {
			if (off + i < n)
				fprintf(f, " %02x", p[off + i]);
			else
				fputs("   ", f);
		}
		fputs("  |", f);
		for (size_t i = 0; i < 16 && off + i < n; i++) {
			uint8_t c = p[off + i];

			fputc(c >= 0x20 && c < 0x7f ? c : '.', f);
		}
		fputs("|\n", f);
	}
}

void cam_json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}

void cam_trimcopy(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = ' ';
	while (n > 0 && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

const char *cam_devtype_name(uint8_t t)
{
	static const char *const names[] = {
		"Direct Access", "Sequential Access", "Printer", "Processor",
		"WORM", "CD-ROM", "Scanner", "Optical", "Changer",
		"Communication", "", "", "Storage Array", "Enclosure Services",
		"Simplified Direct Access", "Optical Card Reader",
	};

	if (t < sizeof(names) / sizeof(names[0]) && names[t][0])
		return names[t];
	return t == SCSI_TYPE_NO_LUN ? "No Device" : "Unknown";
}

const char *cam_version_name(uint8_t v)
{
	switch (v) {
	case 3: return "SCSI-3";
	case 4: return "SPC-2";
	case 5: return "SPC-3";
	case 6: return "SPC-4";
	case 7: return "SPC-5";
	default: return "SCSI";
	}
}

/* Run a CDB; prints the error (with sense) unless quiet.  0 or -1. */
int cam_run(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
		   const uint8_t *cdb, uint8_t cdb_len, uint32_t dir,
		   void *buf, uint32_t len, int retries,
		   struct cam_pass_req *out, bool quiet)
{
	struct cam_pass_req r;
	uint32_t st;

	memset(&r, 0, sizeof(r));
	r.path_id = b;
	r.target = t;
	r.lun = l;
	r.cdb = cdb;
	r.cdb_len = cdb_len;
	r.dir = dir;
	r.data = buf;
	r.dxfer_len = len;
	r.timeout_ms = c->timeout_ms;
	r.retries = retries;
	r.tag_action = MSG_SIMPLE_Q_TAG;
	st = cam_pass_run(c->loop, &r);
	if (out)
		*out = r;
	if (cam_ccb_status(st) == CAM_REQ_CMP)
		return 0;
	if (!quiet) {
		fprintf(c->err, "%u:%u:%llu: %s: %s", b, t,
			(unsigned long long)l, scsi_opcode_name(cdb[0], 0),
			cam_status_name(st));
		if (cam_ccb_status(st) == CAM_SCSI_STATUS_ERROR)
			fprintf(c->err, " (%s)", scsi_status_name(r.scsi_status));
		if (r.sense_len) {
			struct scsi_sense s;
			char txt[160];

			if (scsi_sense_parse(r.sense, r.sense_len, &s) == 0) {
				scsi_sense_format(&s, txt, sizeof(txt));
				fprintf(c->err, ": %s", txt);
			}
		}
		fputc('\n', c->err);
	}
	return -1;
}

int cam_need_dev(struct cli *c, uint32_t *b, uint32_t *t, uint64_t *l)
{
	if (c->npos < 1 || cam_parse_dev(c->pos[0], b, t, l) < 0) {
		fprintf(c->err, "a device BUS:TARGET:LUN is needed\n");
		return -1;
	}
	return 0;
}

/* ---- option parsing and dispatch ---- */

enum {
	CO_SIM, CO_SOCKET, CO_JSON, CO_HELP, CO_VERBOSE, CO_RETRIES,
	CO_TIMEOUT, CO_LBA, CO_COUNT, CO_IN, CO_OUT, CO_PATTERN, CO_CDB,
	CO_DATA_IN, CO_DATA_OUT, CO_OPENINGS, CO_CURRENT, CO_USER, CO_TQ,
	CO_DISC, CO_WIDTH, CO_OFFSET, CO_PERIOD,
};

#define CO_NUM(n, s, id, arg, max, help) \
	{ n, s, CLI_NUM, id, arg, 0, max, help }

/* Options of every cam command. */
static const struct cli_opt cam_global_opts[] = {
	{ "sim", 0, CLI_STR, CO_SIM, "URL",
	  0, 0, "build the stack in this process on the SIM URL" },
	{ "socket", 0, CLI_STR, CO_SOCKET, "PATH", 0, 0,
	  "the daemon's control socket" },
	{ "json", 0, CLI_FLAG, CO_JSON, NULL, 0, 0, "machine-readable output" },
	{ "help", 'h', CLI_FLAG, CO_HELP, NULL, 0, 0, "this text" },
	{ "verbose", 'v', CLI_FLAG, CO_VERBOSE, NULL, 0, 0, "more detail" },
	CO_NUM("C", 'C', CO_RETRIES, "RETRIES", 100, "retries (4)"),
	CO_NUM("timeout", 0, CO_TIMEOUT, "MS", 1000000000,
	       "command timeout (30000)"),
	{ NULL },
};

static const struct cli_opt cam_rw_opts[] = {
	CO_NUM("lba", 0, CO_LBA, "N", 0, "first block"),
	CO_NUM("count", 0, CO_COUNT, "N", 0, "blocks"),
	{ "in", 0, CLI_STR, CO_IN, "FILE", 0, 0, "data to write" },
	{ "out", 0, CLI_STR, CO_OUT, "FILE", 0, 0, "where read data goes" },
	CO_NUM("pattern", 0, CO_PATTERN, "BYTE", 255, "write this byte"),
	{ NULL },
};

static const struct cli_opt cam_cmd_opts[] = {
	{ "c", 'c', CLI_STR, CO_CDB, "\"HEX CDB\"", 0, 0, "the CDB" },
	CO_NUM("i", 'i', CO_DATA_IN, "LEN", 0, "data-in length"),
	CO_NUM("o", 'o', CO_DATA_OUT, "LEN", 0, "data-out length"),
	{ "in", 0, CLI_STR, CO_IN, "FILE", 0, 0, "data-out bytes" },
	{ "out", 0, CLI_STR, CO_OUT, "FILE", 0, 0, "where data-in goes" },
	{ NULL },
};

static const struct cli_opt cam_tags_opts[] = {
	CO_NUM("N", 'N', CO_OPENINGS, "OPENINGS", 0, "set the openings"),
	{ NULL },
};

static const struct cli_opt cam_negotiate_opts[] = {
	{ "c", 'c', CLI_FLAG, CO_CURRENT, NULL, 0, 0, "current settings" },
	{ "u", 'u', CLI_FLAG, CO_USER, NULL, 0, 0, "user settings" },
	{ "T", 'T', CLI_STR, CO_TQ, "enable|disable", 0, 0,
	  "tagged queueing" },
	{ "D", 'D', CLI_STR, CO_DISC, "enable|disable", 0, 0,
	  "disconnection" },
	CO_NUM("W", 'W', CO_WIDTH, "WIDTH", 0, "bus width"),
	CO_NUM("O", 'O', CO_OFFSET, "OFFSET", 0, "sync offset"),
	CO_NUM("R", 'R', CO_PERIOD, "PERIOD", 0, "sync period"),
	{ NULL },
};

/* Every option any cam command takes (the completion offers these; the
 * first pass of cam_cli_parse() finds the command word with it). */
const struct cli_opt cam_opts[] = {
	{ "sim", 0, CLI_STR, CO_SIM, "URL", 0, 0, NULL },
	{ "socket", 0, CLI_STR, CO_SOCKET, "PATH", 0, 0, NULL },
	{ "json", 0, CLI_FLAG, CO_JSON, NULL, 0, 0, NULL },
	{ "help", 'h', CLI_FLAG, CO_HELP, NULL, 0, 0, NULL },
	{ "verbose", 'v', CLI_FLAG, CO_VERBOSE, NULL, 0, 0, NULL },
	CO_NUM("C", 'C', CO_RETRIES, "RETRIES", 100, NULL),
	CO_NUM("timeout", 0, CO_TIMEOUT, "MS", 1000000000, NULL),
	CO_NUM("lba", 0, CO_LBA, "N", 0, NULL),
	CO_NUM("count", 0, CO_COUNT, "N", 0, NULL),
	{ "in", 0, CLI_STR, CO_IN, "FILE", 0, 0, NULL },
	{ "out", 0, CLI_STR, CO_OUT, "FILE", 0, 0, NULL },
	CO_NUM("pattern", 0, CO_PATTERN, "BYTE", 255, NULL),
	{ "c", 'c', CLI_STR, CO_CDB, "CDB", 0, 0, NULL },
	CO_NUM("i", 'i', CO_DATA_IN, "LEN", 0, NULL),
	CO_NUM("o", 'o', CO_DATA_OUT, "LEN", 0, NULL),
	CO_NUM("N", 'N', CO_OPENINGS, "OPENINGS", 0, NULL),
	{ "u", 'u', CLI_FLAG, CO_USER, NULL, 0, 0, NULL },
	{ "T", 'T', CLI_STR, CO_TQ, "MODE", 0, 0, NULL },
	{ "D", 'D', CLI_STR, CO_DISC, "MODE", 0, 0, NULL },
	CO_NUM("W", 'W', CO_WIDTH, "WIDTH", 0, NULL),
	CO_NUM("O", 'O', CO_OFFSET, "OFFSET", 0, NULL),
	CO_NUM("R", 'R', CO_PERIOD, "PERIOD", 0, NULL),
	{ NULL },
};

static int cmd_read(struct cli *c)
{
	return cam_cmd_rw(c, true);
}

static int cmd_write(struct cli *c)
{
	return cam_cmd_rw(c, false);
}

/* The cam commands: one row each, with the options it takes beyond the
 * global ones. */
static const struct cam_cmd {
	const char *name;
	int (*fn)(struct cli *c);
	const struct cli_opt *opts;
} cam_cmds[] = {
	{ "devlist", cam_cmd_devlist, NULL },
	{ "inquiry", cam_cmd_inquiry, NULL },
	{ "readcap", cam_cmd_readcap, NULL },
	{ "tur", cam_cmd_tur, NULL },
	{ "reset", cam_cmd_reset, NULL },
	{ "rescan", cam_cmd_rescan, NULL },
	{ "read", cmd_read, cam_rw_opts },
	{ "write", cmd_write, cam_rw_opts },
	{ "cmd", cam_cmd_cmd, cam_cmd_opts },
	{ "tags", cam_cmd_tags, cam_tags_opts },
	{ "negotiate", cam_cmd_negotiate, cam_negotiate_opts },
	{ "pathinq", cam_cmd_pathinq, NULL },
	{ "fault", cam_cmd_fault, NULL },
};

static void cam_store(struct cli *c, const struct cli_val *v)
{
	switch (v->id) {
	case CO_JSON: c->json = true; break;
	case CO_VERBOSE: c->verbose = true; break;
	case CO_RETRIES: c->retries = (int)v->num; break;
	case CO_TIMEOUT: c->timeout_ms = (uint32_t)v->num; break;
	case CO_LBA: c->opt_lba = (long long)v->num; break;
	case CO_COUNT: c->opt_count = (long long)v->num; break;
	case CO_IN: c->opt_in = v->str; break;
	case CO_OUT: c->opt_out = v->str; break;
	case CO_PATTERN: c->opt_pattern = (long long)v->num; break;
	case CO_CDB: c->opt_c = v->str; break;
	case CO_DATA_IN: c->opt_i = (long long)v->num; break;
	case CO_DATA_OUT: c->opt_o = (long long)v->num; break;
	case CO_OPENINGS: c->opt_N = (long long)v->num; break;
	case CO_CURRENT: c->opt_current = true; break;
	case CO_USER: c->opt_user = true; break;
	case CO_TQ: c->opt_T = v->str; break;
	case CO_DISC: c->opt_D = v->str; break;
	case CO_WIDTH: c->opt_W = (long long)v->num; break;
	case CO_OFFSET: c->opt_O = (long long)v->num; break;
	case CO_PERIOD: c->opt_R = (long long)v->num; break;
	}
}


static void cam_req_add(struct cam_args *a, const struct cli_val *v)
{
	const struct cli_opt *o = v->opt;

	if (!a->req || a->nwords + 1 >= 32)
		return;
	snprintf(a->words[a->nwords], sizeof(a->words[0]), "%s%s",
		 o->name[1] ? "--" : "-", o->name);
	a->req[a->nreq++] = a->words[a->nwords++];
	if (v->str)
		a->req[a->nreq++] = (char *)v->str;
}

/*
 * Parse a cam command line (argv[0] is the first word after "cam"): the
 * command word is the first positional argument; options, global or the
 * command's own, may come before or after it.  0, or CLI_EXIT_USAGE after
 * one line on err.
 */
int cam_cli_parse(struct cli *c, struct cam_args *a, int argc, char **argv,
		     FILE *err)
{
	struct cli_parser p;
	struct cli_val v;
	int id;

	/* First pass: find the command word. */
	cli_init(&p, "scsikit cam", argc, argv, 0, c->pos, 8);
	cli_add_table(&p, cam_opts);
	while ((id = cli_next(&p, &v)) != CLI_END && id != CLI_ERROR)
		if (id == CO_HELP)
			a->help = true;
	if (a->help)
		return 0;
	if (id == CLI_ERROR && !p.npos) {
		fprintf(err, "scsikit cam: %s\n", p.err);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; p.npos && i < sizeof(cam_cmds) / sizeof(cam_cmds[0]);
	     i++)
		if (!strcmp(c->pos[0], cam_cmds[i].name))
			a->cmd = &cam_cmds[i];
	if (!a->cmd) {
		if (p.npos)
			fprintf(err, "scsikit cam: unknown cam command '%s'\n",
				c->pos[0]);
		else
			fprintf(err, "scsikit cam: a command is needed "
				     "(scsikit cam --help lists them)\n");
		return CLI_EXIT_USAGE;
	}
	/* Second pass: the global options and the command's own. */
	cli_init(&p, "scsikit cam", argc, argv, 0, c->pos, 8);
	cli_add_table(&p, cam_global_opts);
	cli_add_table(&p, a->cmd->opts);
	while ((id = cli_next(&p, &v)) != CLI_END) {
		if (id == CLI_ERROR) {
			fprintf(err, "scsikit cam %s: %s\n", a->cmd->name,
				p.err);
			return CLI_EXIT_USAGE;
		}
		if (id == CO_SIM)
			a->sim = v.str;
		else if (id == CO_SOCKET)
			a->sock = v.str;
		else
			cam_req_add(a, &v);
		cam_store(c, &v);
	}
	c->npos = p.npos;
	if (a->req)
		for (int i = 0; i < p.npos && a->nreq < 62; i++)
			a->req[a->nreq++] = c->pos[i];
	/* The commands see the words after the command's name. */
	memmove(c->pos, c->pos + 1, sizeof(c->pos[0]) * (size_t)(c->npos - 1));
	c->npos--;
	return 0;
}

void cam_cli_defaults(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->retries = CLI_DEFAULT_RETRIES;
	c->timeout_ms = CLI_TIMEOUT_MS;
	c->opt_lba = c->opt_count = c->opt_i = c->opt_o = c->opt_N =
		c->opt_W = c->opt_O = c->opt_R = -1;
	c->opt_pattern = 0;
}

int cam_cli_exec(struct ev_loop *loop, struct cam_loop *const *sims,
		 unsigned nsims, int argc, char **argv, FILE *out, FILE *err)
{
	struct cam_args a;
	struct cli c;
	int rc;

	if (argc < 1)
		return CLI_EXIT_USAGE;
	cam_cli_defaults(&c);
	memset(&a, 0, sizeof(a));
	rc = cam_cli_parse(&c, &a, argc, argv, err);
	if (rc)
		return rc;
	if (a.help) {
		cam_cli_usage(out);
		return 0;
	}
	c.loop = loop;
	c.sims = sims;
	c.nsims = nsims;
	c.out = out;
	c.err = err;
	return a.cmd->fn(&c);
}

