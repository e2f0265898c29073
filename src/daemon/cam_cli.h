/*
 * The CAM control tool's commands (after FreeBSD's camcontrol), shared by
 * `scsikit cam` (tools/cmd_cam.c: in its own process with --sim, or sent
 * to the daemon) and the daemon's cam front end (serve_cam.c), which runs
 * them on its buses for "cam ..." control requests.  One row per command
 * in the table of cam_cli.c; the commands live in cam_cmd_info.c (devlist,
 * inquiry, readcap, tur, pathinq), cam_cmd_io.c (read, write, cmd) and
 * cam_cmd_ctl.c (reset, rescan, tags, negotiate, fault).
 */
#ifndef SCSIKIT_DAEMON_CAM_CLI_H
#define SCSIKIT_DAEMON_CAM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <scsikit/cam.h>

#include "cli_opt.h"

struct ev_loop;

#define CLI_DEFAULT_RETRIES 4
#define CLI_TIMEOUT_MS 30000

/* One command's state: where it runs, its options and arguments. */
#define CLI_DEFAULT_RETRIES 4
#define CLI_TIMEOUT_MS 30000

struct cli {
	struct ev_loop *loop;
	struct cam_loop *const *sims;
	unsigned nsims;
	FILE *out, *err;
	bool json, verbose;
	int retries;
	uint32_t timeout_ms;
	/* positional arguments left after the options */
	char *pos[8];
	int npos;
	/* options with values */
	const char *opt_c, *opt_in, *opt_out, *opt_T, *opt_D;
	long long opt_lba, opt_count, opt_i, opt_o, opt_N, opt_W, opt_O,
		opt_R, opt_pattern;
	bool opt_user, opt_current;
};


struct capacity {
	uint64_t blocks;
	uint32_t bs;
	uint32_t pexp;
	bool lbpme, lbprz;
};

/* What cam_cli_parse() found besides the struct cli fields. */
struct cam_args {
	const struct cam_cmd *cmd;
	const char *sim, *sock;
	bool help;
	/* the request for the daemon: the words of argv without --sim and
	 * --socket (only when req is not NULL) */
	char **req;
	int nreq;
	char words[32][80];
	int nwords;
};

/* Every option any cam command takes (the completion offers these). */
extern const struct cli_opt cam_opts[];

/* Parse a cam command line (argv[0] is the first word after "cam"); 0, or
 * CLI_EXIT_USAGE after one line on err. */
int cam_cli_parse(struct cli *c, struct cam_args *a, int argc, char **argv,
		  FILE *err);
void cam_cli_defaults(struct cli *c);
void cam_cli_usage(FILE *f);
/* Parse and run one command on loop's buses; its exit status. */
int cam_cli_exec(struct ev_loop *loop, struct cam_loop *const *sims,
		 unsigned nsims, int argc, char **argv, FILE *out, FILE *err);

/* Helpers of the commands (cam_cli.c). */
int cam_parse_dev(const char *s, uint32_t *b, uint32_t *t, uint64_t *l);
int cam_parse_ll(const char *s, long long *out);
void cam_hexdump(FILE *f, const uint8_t *p, size_t n);
void cam_json_hex(FILE *f, const uint8_t *p, size_t n);
void cam_trimcopy(char *dst, const uint8_t *src, size_t n);
const char *cam_devtype_name(uint8_t t);
const char *cam_version_name(uint8_t v);
/* Run a CDB; prints the error (with sense) unless quiet.  0 or -1. */
int cam_run(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
	    const uint8_t *cdb, uint8_t cdb_len, uint32_t dir, void *buf,
	    uint32_t len, int retries, struct cam_pass_req *out, bool quiet);
int cam_need_dev(struct cli *c, uint32_t *b, uint32_t *t, uint64_t *l);
int cam_get_capacity(struct cli *c, uint32_t b, uint32_t t, uint64_t l,
		     struct capacity *cap, bool quiet);

/* The commands: each returns the exit status. */
int cam_cmd_devlist(struct cli *c);
int cam_cmd_inquiry(struct cli *c);
int cam_cmd_readcap(struct cli *c);
int cam_cmd_tur(struct cli *c);
int cam_cmd_pathinq(struct cli *c);
int cam_cmd_rw(struct cli *c, bool rd);
int cam_cmd_cmd(struct cli *c);
int cam_cmd_reset(struct cli *c);
int cam_cmd_rescan(struct cli *c);
int cam_cmd_tags(struct cli *c);
int cam_cmd_negotiate(struct cli *c);
int cam_cmd_fault(struct cli *c);

#endif
