/*
 * `scsikit serve`: the daemon.  This header is the contract between the
 * daemon's core (tools/serve.c: reactors, disks, control socket) and its
 * front ends (iSCSI, NBD, xdisk, vscsi, imports), each of which fills one
 * const struct serve_frontend in its own tools/serve_<name>.c and is listed
 * in the table in tools/serve_frontends.c.
 */
#ifndef SCSIKIT_TOOLS_SERVE_H
#define SCSIKIT_TOOLS_SERVE_H

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

/* The table of front ends (tools/serve_frontends.c).  An entry is NULL when
 * that front end is not linked into this build. */
extern const struct serve_frontend *const serve_frontends[];
extern const unsigned serve_nfrontends;
extern const char *const serve_frontend_names[];

#endif
