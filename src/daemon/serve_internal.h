/*
 * The daemon's own state, shared by serve.c (start-up, reactors,
 * shutdown) and serve_ctl.c (the control socket).  Front ends never
 * see this; they get struct serve_ctx.
 */
#ifndef SCSIKIT_TOOLS_SERVE_INTERNAL_H
#define SCSIKIT_TOOLS_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "serve.h"

#define SERVE_MAX_FRONTENDS 16
#define SERVE_MAX_REACTORS 16

struct serve_ctl;

struct serve_daemon {
	struct serve_ctx ctx;
	struct ev_loop *loops[SERVE_MAX_REACTORS];
	pthread_t threads[SERVE_MAX_REACTORS];
	unsigned next_loop;

	void *fe_state[SERVE_MAX_FRONTENDS]; /* NULL: not linked/disabled */
	bool fe_started[SERVE_MAX_FRONTENDS];

	char ctl_path[256];
	struct serve_ctl *ctl;
	uint64_t started_ms;
};

/* Control socket: listen on path (mode 0600), serve requests on
 * d->loops[0].  NULL with a message in err on failure. */
struct serve_ctl *serve_ctl_start(struct serve_daemon *d, const char *path,
				  char *err, size_t errlen);
void serve_ctl_stop(struct serve_ctl *ctl);

/* Make a disk from "NAME=SPEC" and add it to the registry; 0 or -1 with a
 * message in err. */
int serve_disk_add(const char *name_spec, char *err, size_t errlen);

/* src/daemon/serve_save.c: what "config save" prints.  The daemon notes each
 * option it applies and each disk it makes from a SPEC; 0 or -1 (out of
 * memory). */
int serve_save_note_option(const char *key, const char *value);
int serve_save_note_disk(const char *name, const char *spec);
/* Keep s (malloc'ed) until serve_save_free(); returns s, or NULL (then s
 * is freed). */
char *serve_save_keep(char *s);
/* Print the config file; 0 or -1. */
int serve_save_write(struct serve_daemon *d, FILE *out);
void serve_save_free(void);

/* Take the LU identity keys (serial=..., wwn=...) out of a disk's SPEC
 * (edited in place) and register them for disk name with the target
 * engine (src/daemon/serve_alua.c).  0, or -1 with a message in err. */
int serve_disk_identity(const char *name, char *spec, char *err,
			size_t errlen);
/* `disk eject NAME` / `disk load NAME [SPEC]` (serve_medium.c): argv as
 * the control socket split it; 0, or -1 with a message in out. */
int ctl_disk_medium(int argc, char **argv, FILE *out);

/* Ask the daemon to stop (from any thread). */
void serve_request_stop(struct serve_daemon *d);

#endif
