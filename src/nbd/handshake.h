/*
 * The NBD handshake (fixed newstyle option haggling) as a pure state
 * machine: bytes from the client go in, bytes for the client come out in a
 * buffer, and the machine ends in DONE (an export was chosen: transmission
 * starts) or CLOSE (the connection must be dropped once the output is
 * sent).  Exports are found through a small ops table so the machine can be
 * tested without a bdev registry.
 *
 * States and transitions:
 *   CLIENT_FLAGS --4 bytes--> OPT_HDR            (unknown client flag: CLOSE)
 *   OPT_HDR --16 bytes--> OPT_DATA              (wrong magic: CLOSE)
 *                     or OPT_DISCARD            (length > NBD_OPT_DATA_MAX)
 *   OPT_DATA --length bytes--> handler --> OPT_HDR | DONE | CLOSE
 *   OPT_DISCARD --length bytes--> ERR_TOO_BIG --> OPT_HDR (EXPORT_NAME: CLOSE)
 *   OPT_DATA --STARTTLS, TLS allowed--> STARTTLS (ACK queued: the caller
 *       sends it, runs the TLS handshake, then nbd_hs_tls_done() --> OPT_HDR,
 *       every later byte going through TLS)
 *
 * TLS policy (the protocol's modes): OFF is NOTLS (STARTTLS answered
 * ERR_POLICY); ON is SELECTIVETLS with no TLS-only export (STARTTLS
 * accepted, TLS optional); REQUIRE is FORCEDTLS (before TLS, every option
 * but STARTTLS and ABORT is answered ERR_TLS_REQD, and EXPORT_NAME, which
 * cannot be answered, closes).  A second STARTTLS gets ERR_INVALID.
 */
#ifndef SCSIKIT_NBD_HANDSHAKE_H
#define SCSIKIT_NBD_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd/proto.h"

/* A growable byte buffer for output; off is where sending resumes. */
struct nbd_buf {
	uint8_t *data;
	size_t len;
	size_t off;
	size_t cap;
};
/* Room for n more bytes at data+len (len is not advanced); NULL on ENOMEM. */
uint8_t *nbd_buf_reserve(struct nbd_buf *b, size_t n);
int nbd_buf_append(struct nbd_buf *b, const void *p, size_t n);
void nbd_buf_reset(struct nbd_buf *b);
void nbd_buf_free(struct nbd_buf *b);

/* One export as the handshake sees it. */
struct nbd_export_desc {
	const char *name;	 /* canonical name, NUL-terminated */
	const char *description; /* may be "" */
	uint64_t size;
	uint16_t tflags;	 /* without NBD_FLAG_SEND_DF */
	struct nbd_block_sizes bs;
	void *handle;		 /* the provider's (a held struct bdev *) */
	char descbuf[128];	 /* storage the provider may use */
};

typedef void (*nbd_export_list_fn)(void *fnarg, const char *name,
				   const char *description);

/* Where exports come from (the daemon: the bdev registry). */
struct nbd_export_ops {
	/* Find the export called name (len bytes, not NUL-terminated; len 0
	 * means the default export).  0: *d filled and d->handle held until
	 * put(); -ENOENT: no such export. */
	int (*get)(void *arg, const char *name, size_t len,
		   struct nbd_export_desc *d);
	void (*put)(void *arg, struct nbd_export_desc *d);
	/* Call fn once per export, in order. */
	void (*list)(void *arg, nbd_export_list_fn fn, void *fnarg);
};

enum nbd_hs_state {
	NBD_HS_CLIENT_FLAGS = 0,
	NBD_HS_OPT_HDR,
	NBD_HS_OPT_DATA,
	NBD_HS_OPT_DISCARD,
	NBD_HS_DONE,
	NBD_HS_CLOSE,
	NBD_HS_STARTTLS,
};

enum nbd_hs_tls {
	NBD_HS_TLS_OFF = 0,
	NBD_HS_TLS_ON,
	NBD_HS_TLS_REQUIRE,
};

#define NBD_HS_MAX_OPTIONS 1024u /* options per connection */

struct nbd_hs {
	enum nbd_hs_state state;
	const struct nbd_export_ops *ops;
	void *ops_arg;

	enum nbd_hs_tls tls;	/* policy, set before the first input */
	bool tls_active;	/* TLS is up (after nbd_hs_tls_done) */

	/* Negotiated so far. */
	uint32_t client_flags;
	bool no_zeroes;
	bool structured;
	bool meta_set;		/* SET_META_CONTEXT selected base:allocation */
	uint32_t meta_name_len;
	char meta_name[NBD_NAME_MAX];

	/* The option being received. */
	uint8_t hdr[NBD_OPT_HDR_LEN];
	uint32_t got;
	uint32_t opt;
	uint32_t opt_len;
	uint32_t discard_left;
	unsigned nopts;

	/* Result, valid in DONE: the export (held) and the session. */
	bool have_export;
	struct nbd_export_desc export;
	uint16_t tflags;	/* as sent, including NBD_FLAG_SEND_DF */
	bool meta_alloc;	/* BLOCK_STATUS allowed on this export */
	const char *why;	/* in CLOSE: a short reason for the log */
	bool aborted;		/* in CLOSE: the client asked (OPT_ABORT) */

	/* The option's data; last so that init need not clear it. */
	uint8_t data[NBD_OPT_DATA_MAX];
};

void nbd_hs_init(struct nbd_hs *hs, const struct nbd_export_ops *ops,
		 void *ops_arg);
/* Drop the export if the handshake still holds one. */
void nbd_hs_fini(struct nbd_hs *hs);
/* The TLS handshake after STARTTLS succeeded: options resume. */
void nbd_hs_tls_done(struct nbd_hs *hs);
/* The server's opening bytes (NBDMAGIC, IHAVEOPT, handshake flags). */
int nbd_hs_greeting(struct nbd_buf *out);
/*
 * Feed len bytes from the client.  Returns the bytes consumed; stops early
 * once the state is DONE, CLOSE or STARTTLS (the rest belongs to the
 * transmission phase or to TLS, or is ignored).  Replies are appended to out.  Returns -ENOMEM
 * if out could not grow (close the connection).
 */
long nbd_hs_input(struct nbd_hs *hs, const uint8_t *in, size_t len,
		  struct nbd_buf *out);

#endif
