/*
 * The NBD wire protocol: constants, big-endian field helpers, and the pure
 * functions that parse what a client sends and build what the server
 * answers.  Nothing here touches a socket, a loop or a bdev, so every parser
 * can be driven from unit tests and from the fuzzer (fuzz/fuzz_nbd.c).
 *
 * Values are those of the NBD protocol document (NetworkBlockDevice/nbd,
 * doc/proto.md).  Only the compact (non-extended) headers are spoken;
 * NBD_OPT_EXTENDED_HEADERS is answered NBD_REP_ERR_UNSUP.
 */
#ifndef SCSIKIT_NBD_PROTO_H
#define SCSIKIT_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Magic numbers. */
#define NBD_MAGIC_INIT 0x4e42444d41474943ull	   /* "NBDMAGIC" */
#define NBD_MAGIC_OPT 0x49484156454f5054ull	   /* "IHAVEOPT" */
#define NBD_MAGIC_OPT_REPLY 0x0003e889045565a9ull
#define NBD_MAGIC_REQUEST 0x25609513u
#define NBD_MAGIC_SIMPLE_REPLY 0x67446698u
#define NBD_MAGIC_STRUCTURED_REPLY 0x668e33efu

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE 0x0001u
#define NBD_FLAG_NO_ZEROES 0x0002u
#define NBD_FLAG_C_FIXED_NEWSTYLE 0x00000001u
#define NBD_FLAG_C_NO_ZEROES 0x00000002u

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_ROTATIONAL (1u << 4)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_RESIZE (1u << 9)
#define NBD_FLAG_SEND_CACHE (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* Options. */
enum nbd_opt {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_PEEK_EXPORT = 4,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
	NBD_OPT_LIST_META_CONTEXT = 9,
	NBD_OPT_SET_META_CONTEXT = 10,
	NBD_OPT_EXTENDED_HEADERS = 11,
};

/* Option replies. */
#define NBD_REP_ACK 1u
#define NBD_REP_SERVER 2u
#define NBD_REP_INFO 3u
#define NBD_REP_META_CONTEXT 4u
#define NBD_REP_ERR(n) (0x80000000u + (n))
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG NBD_REP_ERR(9)

/* NBD_REP_INFO types. */
#define NBD_INFO_EXPORT 0u
#define NBD_INFO_NAME 1u
#define NBD_INFO_DESCRIPTION 2u
#define NBD_INFO_BLOCK_SIZE 3u

/* Commands and command flags. */
enum nbd_cmd {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
	NBD_CMD_BLOCK_STATUS = 7,
	NBD_CMD_COUNT = 8,
};
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_DF (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* Structured reply flags and chunk types. */
#define NBD_REPLY_FLAG_DONE (1u << 0)
#define NBD_REPLY_TYPE_NONE 0u
#define NBD_REPLY_TYPE_OFFSET_DATA 1u
#define NBD_REPLY_TYPE_OFFSET_HOLE 2u
#define NBD_REPLY_TYPE_BLOCK_STATUS 5u
#define NBD_REPLY_TYPE_ERROR 0x8001u
#define NBD_REPLY_TYPE_ERROR_OFFSET 0x8002u

/* base:allocation flags. */
#define NBD_STATE_HOLE (1u << 0)
#define NBD_STATE_ZERO (1u << 1)

/* Error values on the wire. */
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_ENOMEM 12u
#define NBD_EINVAL 22u
#define NBD_ENOSPC 28u
#define NBD_EOVERFLOW 75u
#define NBD_ENOTSUP 95u
#define NBD_ESHUTDOWN 108u

/* Sizes of fixed messages. */
#define NBD_OPT_HDR_LEN 16u	   /* magic, option, length */
#define NBD_OPT_REPLY_HDR_LEN 20u  /* magic, option, type, length */
#define NBD_REQUEST_LEN 28u
#define NBD_SIMPLE_REPLY_LEN 16u
#define NBD_CHUNK_HDR_LEN 20u

/* Limits of this server (see docs/nbd.md). */
#define NBD_NAME_MAX 4096u	   /* the spec's string limit */
#define NBD_OPT_DATA_MAX 16384u	   /* larger options: ERR_TOO_BIG */
#define NBD_MAX_BLOCK_DEFAULT (32u << 20) /* advertised maximum cap */
/* The metadata context this server offers, and its id. */
#define NBD_CTX_BASE_ALLOCATION "base:allocation"
#define NBD_CTX_ID_BASE_ALLOCATION 1u

/* Big-endian helpers. */
static inline void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void nbd_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}
static inline uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t nbd_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t nbd_get64(const uint8_t *p)
{
	return ((uint64_t)nbd_get32(p) << 32) | nbd_get32(p + 4);
}

/* A transmission request as parsed from the wire. */
struct nbd_request {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t length;
};

/*
 * Parse one request header from buf.  Returns NBD_REQUEST_LEN when one was
 * parsed, 0 when more bytes are needed, -EPROTO on a wrong magic (the
 * stream cannot be resynchronised: close the connection).
 */
int nbd_request_parse(const uint8_t *buf, size_t len, struct nbd_request *r);

/* What the checks of a request need to know about the export and the
 * negotiated session. */
struct nbd_export_limits {
	uint64_t size;
	uint32_t min_block;	/* power of two */
	uint32_t max_block;	/* for READ, WRITE, CACHE */
	uint16_t tflags;	/* transmission flags sent to the client */
	bool structured;	/* NBD_OPT_STRUCTURED_REPLY acknowledged */
	bool meta_alloc;	/* base:allocation selected for this export */
};

/*
 * Check a request against the export: command known, flags allowed for the
 * command and negotiated, range inside the export, aligned, length within
 * the maximum.  Returns 0 or the NBD error to answer with (NBD_EINVAL,
 * NBD_ENOSPC, NBD_EPERM, NBD_EOVERFLOW ...).  Pure.
 */
uint32_t nbd_request_check(const struct nbd_request *r,
			   const struct nbd_export_limits *lim);

/* Whether a request carries a payload of r->length bytes (WRITE only). */
static inline bool nbd_request_has_payload(const struct nbd_request *r)
{
	return r->type == NBD_CMD_WRITE;
}

/* Map a negative errno from the bdev layer to an NBD error value. */
uint32_t nbd_errno_to_wire(int neg_errno);
const char *nbd_cmd_name(uint16_t type);
const char *nbd_opt_name(uint32_t opt);

/* Block size triple derived from a bdev's geometry. */
struct nbd_block_sizes {
	uint32_t min, pref, max;
};
struct bdev_geometry;
void nbd_block_sizes_from_geometry(const struct bdev_geometry *geo,
				   struct nbd_block_sizes *bs);
/* Transmission flags for an export (without NBD_FLAG_SEND_DF, which
 * depends on the session: see nbd_hs). */
uint16_t nbd_tflags_from_geometry(const struct bdev_geometry *geo);

/* Reply builders: each writes into p and returns the bytes written. */
size_t nbd_put_simple_reply(uint8_t *p, uint32_t error, uint64_t cookie);
size_t nbd_put_chunk_hdr(uint8_t *p, uint16_t flags, uint16_t type,
			 uint64_t cookie, uint32_t payload_len);
/* A whole NBD_REPLY_TYPE_ERROR (has_offset false) or ERROR_OFFSET chunk;
 * msg is cut to fit msg_max bytes.  Returns the bytes written. */
size_t nbd_put_error_chunk(uint8_t *p, uint16_t flags, uint64_t cookie,
			   uint32_t error, const char *msg, size_t msg_max,
			   bool has_offset, uint64_t offset);
size_t nbd_put_opt_reply_hdr(uint8_t *p, uint32_t opt, uint32_t type,
			     uint32_t len);

#endif
