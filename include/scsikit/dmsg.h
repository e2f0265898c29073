/*
 * DMSG: DragonFly BSD's message protocol, as spoken by scsikit's xdisk
 * server and client (docs/dmsg.md; the wire facts are in
 * reference/dmsg-wire.md).
 *
 * Two layers live here.  The wire layer is pure functions: encode a message
 * into bytes, and check and decode one from bytes (magic and byte order,
 * CRC32C of the extended header and of the aux data, size limits).  The
 * iocom layer runs one DMSG link over a connected stream socket on an event
 * loop: transactions keyed by msgid in both directions, sub-transactions
 * through the circuit field, LNK_PING keep-alive, and on link loss the local
 * end of every open transaction with LOSTLINK, children first.
 *
 * Everything of an iocom runs on its loop's thread; none of it is
 * thread-safe.
 */
#ifndef SCSIKIT_DMSG_H
#define SCSIKIT_DMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>

struct ev_loop;

/* ---- Wire constants ---------------------------------------------------- */

#define DMSG_HDR_MAGIC 0x4832u
#define DMSG_HDR_MAGIC_REV 0x3248u /* the peer has the other byte order */
#define DMSG_HDR_SIZE 64u
#define DMSG_ALIGN 64u
#define DMSG_EXT_MAX 2048u	   /* largest extended header */
#define DMSG_AUX_MAX (1u << 20)	   /* scsikit's aux limit per message */
#define DMSG_BODY_MAX (DMSG_EXT_MAX - DMSG_HDR_SIZE)

/* cmd = flags | protocol | command | size (in 64-byte units) */
#define DMSGF_CREATE 0x80000000u
#define DMSGF_DELETE 0x40000000u
#define DMSGF_REPLY 0x20000000u
#define DMSGF_ABORT 0x10000000u
#define DMSGF_AUXOOB 0x08000000u
#define DMSGF_FLAGS 0xFF000000u
#define DMSGF_PROTOS 0x00F00000u
#define DMSGF_CMDS 0x000FFF00u
#define DMSGF_SIZE 0x000000FFu
#define DMSGF_BASECMDMASK (DMSGF_PROTOS | DMSGF_CMDS)

#define DMSG_PROTO_LNK 0x00000000u
#define DMSG_PROTO_DBG 0x00100000u
#define DMSG_PROTO_DOM 0x00200000u
#define DMSG_PROTO_CAC 0x00300000u
#define DMSG_PROTO_QRM 0x00400000u
#define DMSG_PROTO_BLK 0x00500000u
#define DMSG_PROTO_VOP 0x00600000u

#define DMSG_CMD(proto, n) ((proto) | ((uint32_t)(n) << 8))

#define DMSG_LNK_PAD DMSG_CMD(DMSG_PROTO_LNK, 0x000)
#define DMSG_LNK_PING DMSG_CMD(DMSG_PROTO_LNK, 0x001)
#define DMSG_LNK_AUTH DMSG_CMD(DMSG_PROTO_LNK, 0x010)
#define DMSG_LNK_CONN DMSG_CMD(DMSG_PROTO_LNK, 0x011)
#define DMSG_LNK_SPAN DMSG_CMD(DMSG_PROTO_LNK, 0x012)
#define DMSG_LNK_CIRC DMSG_CMD(DMSG_PROTO_LNK, 0x013)
#define DMSG_LNK_VOLCONF DMSG_CMD(DMSG_PROTO_LNK, 0x020)
#define DMSG_LNK_ERROR DMSG_CMD(DMSG_PROTO_LNK, 0xFFF)
#define DMSG_DBG_SHELL DMSG_CMD(DMSG_PROTO_DBG, 0x001)
#define DMSG_BLK_OPEN DMSG_CMD(DMSG_PROTO_BLK, 0x001)
#define DMSG_BLK_READ DMSG_CMD(DMSG_PROTO_BLK, 0x002)
#define DMSG_BLK_WRITE DMSG_CMD(DMSG_PROTO_BLK, 0x003)
#define DMSG_BLK_FLUSH DMSG_CMD(DMSG_PROTO_BLK, 0x004)
#define DMSG_BLK_FREEBLKS DMSG_CMD(DMSG_PROTO_BLK, 0x005)
#define DMSG_BLK_ERROR DMSG_CMD(DMSG_PROTO_BLK, 0xFFF)

/* Errors in hdr.error; 0x00-0x1F are local iocom errors. */
#define DMSG_ERR_NOSUPP 0x20u
#define DMSG_ERR_LOSTLINK 0x21u
#define DMSG_ERR_IO 0x22u
#define DMSG_ERR_PARAM 0x23u
#define DMSG_ERR_CANTCIRC 0x24u

#define DMSG_PEER_NONE 0u
#define DMSG_PEER_CLUSTER 1u
#define DMSG_PEER_BLOCK 2u
#define DMSG_PEER_HAMMER2 3u

#define DMSG_PFSTYPE_NONE 0u
#define DMSG_PFSTYPE_ADMIN 1u
#define DMSG_PFSTYPE_CLIENT 2u
#define DMSG_PFSTYPE_CACHE 3u
#define DMSG_PFSTYPE_COPY 4u
#define DMSG_PFSTYPE_SLAVE 5u
#define DMSG_PFSTYPE_SOFT_SLAVE 6u
#define DMSG_PFSTYPE_SOFT_MASTER 7u
#define DMSG_PFSTYPE_MASTER 8u
#define DMSG_PFSTYPE_SERVER 9u

#define DMSG_BLKOPEN_RD 0x1u
#define DMSG_BLKOPEN_WR 0x2u

#define DMSG_LABEL_LEN 128u

/* ---- Wire structures (host byte order once decoded) -------------------- */

/* The 64-byte header of every message. */
struct dmsg_hdr {
	uint16_t magic;
	uint16_t reserved02;
	uint32_t salt;
	uint64_t msgid;
	uint64_t circuit;
	uint64_t reserved18;
	uint32_t cmd;
	uint32_t aux_crc;
	uint32_t aux_bytes;
	uint32_t error;
	uint64_t aux_descr;
	uint32_t reserved38;
	uint32_t hdr_crc;
};

/* Command structures: the bytes after the header.  Layouts follow the
 * natural alignment of the reference's structures (the padding is named). */
struct dmsg_lnk_conn {
	uint8_t mediaid[16];
	uint8_t pfs_clid[16];
	uint8_t pfs_fsid[16];
	uint64_t peer_mask;
	uint8_t peer_type;
	uint8_t pfs_type;
	uint16_t proto_version;
	uint32_t status;
	uint32_t rnss;
	uint8_t reserved02[8];
	uint32_t reserved03[12];
	uint32_t pad04; /* alignment of pfs_mask */
	uint64_t pfs_mask;
	char cl_label[DMSG_LABEL_LEN];
	char fs_label[DMSG_LABEL_LEN];
};

struct dmsg_media_block {
	uint64_t bytes;
	uint32_t blksize;
	uint32_t reserved01;
};

struct dmsg_lnk_span {
	uint8_t pfs_clid[16];
	uint8_t pfs_fsid[16];
	uint8_t pfs_type;
	uint8_t peer_type;
	uint16_t proto_version;
	uint32_t status;
	uint8_t reserved02[8];
	uint32_t dist;
	uint32_t rnss;
	union {
		uint32_t reserved03[14];
		struct dmsg_media_block block;
	} media;
	char cl_label[DMSG_LABEL_LEN];
	char fs_label[DMSG_LABEL_LEN];
};

/* fence_id and fence_gen are scsikit's (docs/dmsg.md, "Fencing"): they sit
 * in the padding of the 64-byte-aligned extended header, so a DragonFly
 * peer neither sends them (they read as zero: no fencing) nor looks at
 * them. */
struct dmsg_blk_open {
	uint32_t modes;
	uint32_t reserved01;
	uint64_t fence_id;	/* the client instance; 0: not fenced */
	uint64_t fence_gen;	/* grows with every open by that client */
};

/* BLK_READ, BLK_WRITE, BLK_FLUSH and BLK_FREEBLKS share one layout. */
struct dmsg_blk_rw {
	uint64_t keyid;
	uint64_t offset;
	uint32_t bytes;
	uint32_t flags;
	uint32_t reserved01;
	uint32_t reserved02;
};

struct dmsg_blk_error {
	uint64_t keyid;
	uint32_t resid;
	uint32_t reserved02;
	char buf[64];
};

/* ---- Wire layer: pure functions ---------------------------------------- */

/* Size of the extended header for a body of body_len bytes (64-aligned). */
SK_API uint32_t dmsg_ext_size(size_t body_len);
/* Bytes on the wire of a message with that body and aux length. */
SK_API size_t dmsg_wire_size(size_t body_len, size_t aux_len);
/* Minimum body length of a known command (0 for unknown or bare ones). */
SK_API size_t dmsg_body_min(uint32_t cmd);
/* Name of a command ("LNK_SPAN"), "?" if unknown; ignores flags/size. */
SK_API const char *dmsg_cmd_name(uint32_t cmd);

/*
 * Encode one message into out (of room bytes): hdr's msgid, circuit, cmd
 * flags/proto/command and error are used, the rest is filled in (magic,
 * salt, size, aux length and CRCs).  Returns the bytes written, or -ENOSPC /
 * -EMSGSIZE (body or aux beyond the limits).
 */
SK_API long dmsg_encode(const struct dmsg_hdr *hdr, const void *body,
			size_t body_len, const void *aux, size_t aux_len,
			void *out, size_t room);

/* A received message, decoded: header and body in host byte order. */
struct dmsg_msg {
	struct dmsg_hdr hdr;
	uint32_t body_len;	/* ext size - 64 */
	uint32_t aux_len;	/* hdr.aux_bytes */
	const uint8_t *aux;	/* points into the input buffer */
	struct dmsg_state *state; /* set by the iocom; NULL when pure */
	union {			/* zero-filled past what was received */
		uint8_t raw[DMSG_BODY_MAX];
		struct dmsg_lnk_conn conn;
		struct dmsg_lnk_span span;
		struct dmsg_blk_open blk_open;
		struct dmsg_blk_rw blk_rw;
		struct dmsg_blk_error blk_error;
		uint64_t align_;
	} body;
};

/* Results of dmsg_decode besides a length. */
#define DMSG_DEC_NEED 0 /* not a whole message yet */

/*
 * Check and decode the message at the start of buf (len bytes).  Returns
 * the bytes it takes (> 0) with *msg filled, DMSG_DEC_NEED when more bytes
 * are needed (*need, if not NULL, says how many in total once the header is
 * known), or a negative errno for input that must reset the link:
 * -EBADMSG (bad magic or CRC), -EMSGSIZE (a size beyond the limits),
 * -EPROTO (out-of-band aux, which scsikit does not take).  Never reads past
 * buf + len; *msg->aux points into buf.
 */
SK_API long dmsg_decode(const void *buf, size_t len, struct dmsg_msg *msg,
			size_t *need);

/* ---- iocom: one link ---------------------------------------------------- */

struct dmsg_iocom;
struct dmsg_state;

/* Called for every message of a transaction after its first, and for the
 * first reply to a transaction we opened.  msg (and msg->aux) are valid only
 * during the call.  On link loss a made-up message carries LNK_ERROR,
 * DELETE and error LOSTLINK. */
typedef void (*dmsg_state_fn)(struct dmsg_state *st, struct dmsg_msg *msg,
			      void *arg);

struct dmsg_iocom_ops {
	/* A new transaction opened by the peer (CREATE, no REPLY) or a one-way
	 * message (st NULL).  For a transaction, the callee may set a handler
	 * with dmsg_state_set_handler and must answer it sometime (a reply
	 * with DELETE ends our side).  NULL: answered NOSUPP. */
	void (*rcvmsg)(struct dmsg_iocom *io, struct dmsg_state *st,
		       struct dmsg_msg *msg, void *arg);
	/* The link is gone (error: a negative errno, or 0 for a clean close
	 * by the peer).  Runs once, after every open transaction was ended
	 * with LOSTLINK; the callee then calls dmsg_iocom_destroy. */
	void (*lost)(struct dmsg_iocom *io, int error, void *arg);
};

struct dmsg_iocom_opts {
	uint32_t ping_ms;	/* keep-alive interval; 0: 1000 */
	uint32_t timeout_ms;	/* silence before the link is lost; 0: 10000 */
	uint32_t max_states;	/* open transactions the peer may hold; 0: 4096 */
	const char *name;	/* for messages; copied */
};

struct dmsg_iocom_stats {
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t writev_calls, read_calls;
	uint64_t proto_errors;	/* messages refused (NOSUPP, PARAM...) */
	uint32_t states_open;
};

/*
 * Run a DMSG link on connected socket fd (set non-blocking here; the iocom
 * owns it and closes it).  NULL with errno set on failure.
 */
SK_API struct dmsg_iocom *dmsg_iocom_create(struct ev_loop *loop, int fd,
					    const struct dmsg_iocom_ops *ops,
					    void *arg,
					    const struct dmsg_iocom_opts *opts);
/* End the link now: as if lost with error (ops->lost runs, unless called
 * from inside it), then free.  Safe from inside any iocom callback (the
 * free is deferred). */
SK_API void dmsg_iocom_destroy(struct dmsg_iocom *io);
/* Declare the link lost (-errno) without freeing it: open transactions
 * are ended with LOSTLINK and ops->lost runs. */
SK_API void dmsg_iocom_fail(struct dmsg_iocom *io, int error);
/* Stop (or resume) reading from the peer: back-pressure for an owner
 * holding too much on the peer's behalf. */
SK_API void dmsg_iocom_pause_rx(struct dmsg_iocom *io, bool paused);
SK_API void *dmsg_iocom_arg(const struct dmsg_iocom *io);
SK_API const char *dmsg_iocom_name(const struct dmsg_iocom *io);
SK_API bool dmsg_iocom_is_lost(const struct dmsg_iocom *io);
SK_API void dmsg_iocom_get_stats(const struct dmsg_iocom *io,
				 struct dmsg_iocom_stats *st);

/* Send a one-way message (no transaction).  0 or -errno. */
SK_API int dmsg_iocom_send_oneway(struct dmsg_iocom *io, uint32_t cmd,
				  uint32_t error, const void *body,
				  size_t body_len, const void *aux,
				  size_t aux_len);

/*
 * Open a transaction: sends cmd with CREATE (plus DELETE if cmd has it, for
 * a one-message command), under parent (NULL: circuit 0).  fn sees every
 * reply.  Returns the state, or NULL with errno set (link lost: ENOTCONN).
 * The state lives until both sides have sent DELETE, or the link is lost.
 */
SK_API struct dmsg_state *
dmsg_state_open(struct dmsg_iocom *io, struct dmsg_state *parent,
		uint32_t cmd, const void *body, size_t body_len,
		const void *aux, size_t aux_len, dmsg_state_fn fn, void *arg);
/*
 * Send on an open transaction.  CREATE is added on our first message of a
 * transaction the peer opened, REPLY when the peer opened it; pass DELETE
 * in cmd to end our side.  -EPIPE if our side already ended.
 */
SK_API int dmsg_state_send(struct dmsg_state *st, uint32_t cmd,
			   uint32_t error, const void *body, size_t body_len,
			   const void *aux, size_t aux_len);
/*
 * Messages whose aux data is produced in place (a read straight into the
 * send buffer): allocate for a body of body_len and aux of up to aux_len
 * bytes, fill dmsg_txbuf_aux(), then send.  dmsg_state_send_txbuf takes tb
 * in every case (sent, or freed on error); aux_len may be smaller than
 * allocated, body_len must round to the same extended-header size.
 */
struct dmsg_txbuf;
SK_API struct dmsg_txbuf *dmsg_txbuf_alloc(size_t body_len, size_t aux_len);
SK_API void *dmsg_txbuf_aux(struct dmsg_txbuf *tb);
SK_API void dmsg_txbuf_free(struct dmsg_txbuf *tb);
SK_API int dmsg_state_send_txbuf(struct dmsg_state *st, uint32_t cmd,
				 uint32_t error, const void *body,
				 size_t body_len, struct dmsg_txbuf *tb,
				 size_t aux_len);
/* Answer with LNK_ERROR(error) and DELETE (a no-op if our side ended). */
SK_API int dmsg_state_reply(struct dmsg_state *st, uint32_t error);
/* Answer with LNK_ERROR(error) and leave our side open (the LNK_CONN and
 * LNK_SPAN acknowledgement). */
SK_API int dmsg_state_ack(struct dmsg_state *st, uint32_t error);
SK_API void dmsg_state_set_handler(struct dmsg_state *st, dmsg_state_fn fn,
				   void *arg);
SK_API void *dmsg_state_arg(const struct dmsg_state *st);
SK_API struct dmsg_state *dmsg_state_parent(const struct dmsg_state *st);
SK_API struct dmsg_iocom *dmsg_state_iocom(const struct dmsg_state *st);
SK_API uint64_t dmsg_state_msgid(const struct dmsg_state *st);
/* The command that opened the transaction (proto|command, no flags). */
SK_API uint32_t dmsg_state_cmd(const struct dmsg_state *st);
/* Which sides have sent DELETE. */
SK_API bool dmsg_state_tx_done(const struct dmsg_state *st);
SK_API bool dmsg_state_rx_done(const struct dmsg_state *st);
/* Per-state user word (e.g. a pointer to the span it describes). */
SK_API void dmsg_state_set_user(struct dmsg_state *st, void *user);
SK_API void *dmsg_state_user(const struct dmsg_state *st);

#endif
