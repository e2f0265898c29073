/*
 * TLS for NBD connections (NBD_OPT_STARTTLS), with GnuTLS: the server's
 * credentials (X.509 certificate and key, optionally a CA to verify client
 * certificates; and/or a PSK file in psktool's format), and one session per
 * connection, which sits between the connection and its socket once the
 * handshake machine (handshake.c) has acknowledged STARTTLS.
 *
 * Everything is non-blocking: the handshake is stepped from the
 * connection's readiness events and says which event it waits for; reads
 * and writes behave like readv/sendmsg on a non-blocking socket (-1 with
 * errno EAGAIN when they would block, 0 at end of stream).
 *
 * Built without GnuTLS (SK_HAVE_GNUTLS unset), loading credentials fails
 * with a message saying so; nothing else is reachable then.
 */
#ifndef SCSIKIT_NBD_TLS_H
#define SCSIKIT_NBD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <scsikit/nbd.h>

struct nbd_tls_creds;
struct nbd_tls;

/* Load what o names; 0 and *out, or -1 with a message in err. */
int nbd_tls_creds_load(const struct nbd_tls_opts *o,
		       struct nbd_tls_creds **out, char *err, size_t errlen);
void nbd_tls_creds_free(struct nbd_tls_creds *cr);

/* A server session on fd (non-blocking).  pre/prelen: bytes the client
 * already sent after STARTTLS (the start of its handshake), read before
 * the socket.  NULL when out of memory or GnuTLS refuses. */
struct nbd_tls *nbd_tls_new(struct nbd_tls_creds *cr, int fd,
			    const void *pre, size_t prelen);
void nbd_tls_free(struct nbd_tls *t);

/* Step the handshake: 0 when done; EV_READ or EV_WRITE: call again when
 * the socket is ready for that; -1: failed (*why says how). */
int nbd_tls_handshake(struct nbd_tls *t, const char **why);

/* Like readv / sendmsg on the socket, through TLS. */
ssize_t nbd_tls_readv(struct nbd_tls *t, const struct iovec *v, int n);
ssize_t nbd_tls_writev(struct nbd_tls *t, const struct iovec *v, int n);

/* Decrypted bytes are waiting inside the session: a read would return
 * them even though the socket may not be readable. */
bool nbd_tls_pending(struct nbd_tls *t);

/* A short description of the session ("TLS1.3 PSK alice"), for logs. */
void nbd_tls_describe(struct nbd_tls *t, char *buf, size_t len);

#endif
