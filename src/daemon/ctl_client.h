/*
 * The client side of the daemon's control socket, for subcommands that talk
 * to a running `scsikit serve` (the protocol is in docs/control-socket.md).
 */
#ifndef SCSIKIT_TOOLS_CTL_CLIENT_H
#define SCSIKIT_TOOLS_CTL_CLIENT_H

#include <stdio.h>

/* The socket a daemon listens on when not told otherwise: $SCSIKIT_CTL,
 * else /run/scsikit/ctl.sock for root, else /tmp/scsikit-<uid>/ctl.sock. */
const char *ctl_default_socket(void);

/*
 * Send argv[0..argc-1] as one request and copy the answer's body to out.
 * Returns 0 when the daemon answered OK, 1 when it answered with an error
 * (its message is printed to stderr), -1 when the socket could not be
 * reached (a message is printed to stderr).
 */
int ctl_call(const char *sock_path, int argc, char **argv, FILE *out);

/* ctl_call() to stdout, turned into the command's exit code: 0, 1 (the
 * daemon answered an error), 3 (it could not be reached). */
int ctl_call_exit(const char *sock_path, int argc, char **argv);

#endif
