/*
 * `scsikit serve`: the daemon (src/daemon).  This header is the contract
 * between the daemon's core (serve.c: reactors, disks, control socket), its
 * front ends (iSCSI, NBD, xdisk, vscsi, imports), each of which fills one
 * const struct serve_frontend in its own serve_<name>.c and is listed in
 * the table in serve_frontends.c, and the command that runs it
 * (tools/cmd_serve.c).
 */
#ifndef SCSIKIT_TOOLS_SERVE_H
#define SCSIKIT_TOOLS_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ev_loop;

/* What the daemon gives its front ends. */
struct serve_ctx {
	struct ev_loop **loops;	/* the reactors; loops[0] runs the control
				 * socket and listeners */
	unsigned nloops;
	const char *instance;	/* a name for this daemon (hostname) */
};

/* Round-robin choice of a reactor for a new connection. */
struct ev_loop *serve_pick_loop(struct serve_ctx *ctx);

/* Check a listener address "HOST:PORT" (port 1-65535; bare_port: digits
 * alone are a port) with the library's parser (util/hostport.h), so a bad
 * address is refused while options are read.  0, or -1 with err set. */
int serve_check_hostport(const char *addr, bool bare_port, char *err,
			 size_t errlen);

/* Remove every word equal to flag from argv (a control request); true if
 * there was one.  Front ends use it for "--json". */
bool serve_ctl_take_flag(int *argc, char **argv, const char *flag);

/*
 * A front end.  Options: every command-line option "--NAME" or "--NAME-x"
 * and every config-file key "NAME" or "NAME-x" (NAME = the front end's
 * name) is handed to configure() with the key without dashes.  Order of
 * calls: create, configure*, start (after the disks exist and the reactors
 * run), then ctl* while running, then stop.  All calls happen on loops[0]'s
 * thread except create/configure (before the reactors start).
 */
struct serve_frontend {
	const char *name;	/* "nbd" */
	const char *usage;	/* option lines for `scsikit serve --help` */
	void *(*create)(struct serve_ctx *ctx);
	/* 0, or -1 with a one-line message in err. */
	int (*configure)(void *st, const char *key, const char *value,
			 char *err, size_t errlen);
	int (*start)(void *st, char *err, size_t errlen);
	/* Close listeners and connections, free everything.  Also called
	 * without start() (start-up failed or --help): then just free. */
	void (*stop)(void *st);
	/* Optional: a control-socket command addressed to this front end
	 * ("nbd list", "iscsi sessions").  Write the answer to out; return 0
	 * or -1 (with an error line in out). */
	int (*ctl)(void *st, int argc, char **argv, FILE *out);
	/* Optional: print the front end's settings as they are now, as
	 * config-file lines ("iscsi-acl d0:iqn..."), for "config save"; 0 or
	 * -1.  A front end without it has its options saved as given. */
	int (*save)(void *st, FILE *out);
};

/* The table of front ends (serve_frontends.c).  An entry is NULL when
 * that front end is not linked into this build. */
extern const struct serve_frontend *const serve_frontends[];
extern const unsigned serve_nfrontends;
extern const char *const serve_frontend_names[];

/*
 * A front end's options are the "--NAME..." words of its usage text (what
 * `scsikit serve --help` shows), so the help, the check below and the bash
 * completion cannot disagree.  Iterate with p = NULL first, then the value
 * returned, until NULL; buf gets the option's name without the dashes.
 */
const char *serve_frontend_next_option(const struct serve_frontend *fe,
				       const char *p, char *buf, size_t len);
bool serve_frontend_has_option(const struct serve_frontend *fe,
			       const char *key);

#endif
