/*
 * The NBD server: exports every disk of the bdev registry over the NBD
 * protocol (fixed newstyle negotiation, simple and structured replies,
 * base:allocation block status), on TCP and Unix sockets.
 *
 * Threading: listeners run on accept_loop; each accepted connection is
 * handed to one reactor chosen by pick_loop and lives there until it
 * closes, so the per-request path takes no lock.  create/listen/destroy
 * are called from accept_loop's thread (or before the loops run).
 */
#ifndef SCSIKIT_NBD_H
#define SCSIKIT_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <scsikit/api.h>

struct ev_loop;
struct nbd_server;

#define NBD_DEFAULT_PORT 10809

struct nbd_server_opts {
	struct ev_loop *accept_loop;	/* runs the listeners */
	/* Choose a reactor for a new connection; NULL: accept_loop. */
	struct ev_loop *(*pick_loop)(void *arg);
	void *pick_arg;
	unsigned max_conns;		/* open connections, all listeners */
	unsigned max_requests;		/* in flight per connection */
	uint64_t max_buffered;		/* data bytes held per connection */
	unsigned stall_timeout_ms;	/* close a client not reading replies */
	unsigned handshake_timeout_ms;	/* close a client stuck in haggling */
	/* Admission (docs/limits.md).  0 takes the default. */
	unsigned max_conns_per_peer;	/* open connections per address */
	/* At the connection cap, a newcomer evicts the connection idle
	 * longest if it has had no request in flight for this long. */
	unsigned idle_timeout_ms;
	/* Close a connection whose request (header or WRITE payload) is
	 * still incomplete this long after its first byte. */
	unsigned body_timeout_ms;
};

/* Counters over the server's life (approximate while it runs). */
struct nbd_server_stats {
	uint64_t conns_accepted;
	uint64_t conns_open;
	uint64_t conns_refused;		/* over max_conns */
	uint64_t requests;
	uint64_t bytes_read;		/* sent to clients by NBD_CMD_READ */
	uint64_t bytes_written;		/* received with NBD_CMD_WRITE */
	uint64_t errors;		/* error replies sent */
	uint64_t protocol_closes;	/* connections dropped for bad input */
	uint64_t refused_peer;		/* over max_conns_per_peer */
	uint64_t evicted_idle;		/* idle, closed for a newcomer */
	uint64_t body_timeouts;		/* request incomplete too long */
	uint64_t conns_moved;		/* to their export's reactor */
};

/* Defaults: 1024 connections, 256 requests and 64 MiB per connection,
 * 30 s stall timeout, 30 s handshake timeout, 128 connections per address,
 * 60 s idle before eviction at the cap, 30 s request body timeout. */
SK_API void nbd_server_opts_init(struct nbd_server_opts *o);

SK_API struct nbd_server *nbd_server_create(const struct nbd_server_opts *o);

/*
 * Listen on addr: "HOST:PORT", "[V6ADDR]:PORT", ":PORT" (loopback),
 * "unix:PATH" or an absolute PATH (Unix socket).  0, or -1 with a
 * one-line reason in err.
 */
SK_API int nbd_server_listen(struct nbd_server *s, const char *addr,
			     char *err, size_t errlen);

/* Close listeners (removing Unix socket files) and every connection;
 * connections still waiting for the bdev finish on their own loops. */
SK_API void nbd_server_destroy(struct nbd_server *s);

SK_API void nbd_server_get_stats(struct nbd_server *s,
				 struct nbd_server_stats *st);

/* Human-readable state: listeners, then one line per connection when
 * conns is true. */
SK_API void nbd_server_dump(struct nbd_server *s, FILE *out, bool conns);
/* The same as one JSON object (listeners, counters, "conns" array). */
SK_API void nbd_server_dump_json(struct nbd_server *s, FILE *out,
				 bool conns);

/*
 * TLS (NBD_OPT_STARTTLS, docs/nbd.md).  OFF: STARTTLS is refused
 * (NBD_REP_ERR_POLICY).  ON: clients may upgrade to TLS.  REQUIRE: every
 * option but STARTTLS is answered NBD_REP_ERR_TLS_REQD until they do.
 */
enum nbd_tls_mode {
	NBD_TLS_OFF = 0,
	NBD_TLS_ON,
	NBD_TLS_REQUIRE,
};

struct nbd_tls_opts {
	enum nbd_tls_mode mode;
	/* X.509: server-cert.pem, server-key.pem and (to verify clients)
	 * ca-cert.pem in this directory; NULL: none. */
	const char *certs_dir;
	/* PSK: "identity:hex-key" lines as psktool writes them; NULL: none. */
	const char *psk_file;
	/* Require a client certificate signed by ca-cert.pem. */
	bool verify_peer;
};

/* Whether this build has TLS (GnuTLS). */
SK_API bool nbd_tls_supported(void);

/* Set the TLS policy and load its credentials; call after create, before
 * the first listen.  0, or -1 with a message in err (among others: a build
 * without GnuTLS cannot turn TLS on). */
SK_API int nbd_server_set_tls(struct nbd_server *s,
			      const struct nbd_tls_opts *o, char *err,
			      size_t errlen);

#endif
