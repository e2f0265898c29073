/*
 * Running the daemon, for the command (tools/cmd_serve.c): its option
 * table and the calls that set it up and run it (serve.c).
 */
#ifndef SCSIKIT_DAEMON_SERVE_MAIN_H
#define SCSIKIT_DAEMON_SERVE_MAIN_H

#include <stdio.h>

#include "cli_opt.h"

/*
 * Running the daemon, for tools/cmd_serve.c: serve_new(), then
 * serve_option() for each option found in argv with the serve_opts table
 * (0, or -1 after one error line), then serve_run(), which starts
 * everything, runs until SIGINT/SIGTERM or a "shutdown" request, stops and
 * frees; it returns the exit status.  serve_free() drops a daemon that is
 * not run.
 */
struct serve;

enum {
	SO_DISK, SO_NO_DEFAULT_DISK, SO_SOCKET, SO_CONFIG, SO_REACTORS,
	SO_LOG_LEVEL, SO_TRACE, SO_SYSLOG, SO_HELP, SO_FRONTEND,
};

/* The daemon's options, on the command line and in config files. */
extern const struct cli_opt serve_opts[];

struct serve *serve_new(void);
int serve_option(struct serve *s, const struct cli_val *v);
int serve_run(struct serve *s);
void serve_free(struct serve *s);
/* `scsikit serve --help`: the options, then each front end's. */
void serve_usage(FILE *out);

#endif
