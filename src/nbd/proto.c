/*
 * NBD wire helpers: request parsing and checking, errno mapping, reply
 * builders, and the export attributes derived from a bdev's geometry.
 * Pure functions only (see proto.h); the connection code and the fuzzer
 * both sit on top of these.
 */
#include <errno.h>

#include <scsikit/bdev.h>

#include "nbd/proto.h"

int nbd_request_parse(const uint8_t *buf, size_t len, struct nbd_request *r)
{
	if (len < NBD_REQUEST_LEN)
		return 0;
	if (nbd_get32(buf) != NBD_MAGIC_REQUEST)
		return -EPROTO;
	r->flags = nbd_get16(buf + 4);
	r->type = nbd_get16(buf + 6);
	r->cookie = nbd_get64(buf + 8);
	r->offset = nbd_get64(buf + 16);
	r->length = nbd_get32(buf + 24);
	return (int)NBD_REQUEST_LEN;
}

/*
 * Per command: the command flags it accepts (before negotiation is taken
 * into account), the transmission flag that must have been advertised for
 * the command to be used (0: always), and how a range error is answered.
 * The protocol document asks for ENOSPC on writes past the end and EINVAL
 * on reads, trims and block status past the end.
 */
struct nbd_cmd_rule {
	const char *name;
	uint16_t flags_ok;
	uint16_t needs_tflag;
	bool has_range;		/* offset/length address the export */
	bool bounded;		/* length limited by the maximum block size */
	bool writes;		/* refused on a read-only export */
	uint32_t past_end_err;
};

static const struct nbd_cmd_rule nbd_cmd_rules[NBD_CMD_COUNT] = {
	[NBD_CMD_READ] = {"READ", NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_DF, 0, true,
			  true, false, NBD_EINVAL},
	[NBD_CMD_WRITE] = {"WRITE", NBD_CMD_FLAG_FUA, 0, true, true, true,
			   NBD_ENOSPC},
	[NBD_CMD_DISC] = {"DISC", NBD_CMD_FLAG_FUA, 0, false, false, false, 0},
	[NBD_CMD_FLUSH] = {"FLUSH", NBD_CMD_FLAG_FUA, NBD_FLAG_SEND_FLUSH,
			   false, false, false, 0},
	[NBD_CMD_TRIM] = {"TRIM", NBD_CMD_FLAG_FUA, NBD_FLAG_SEND_TRIM, true,
			  false, true, NBD_EINVAL},
	[NBD_CMD_CACHE] = {"CACHE", NBD_CMD_FLAG_FUA, 0, true, true, false,
			   NBD_EINVAL},
	[NBD_CMD_WRITE_ZEROES] = {"WRITE_ZEROES",
				  NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE |
					  NBD_CMD_FLAG_FAST_ZERO,
				  NBD_FLAG_SEND_WRITE_ZEROES, true, false,
				  true, NBD_ENOSPC},
	[NBD_CMD_BLOCK_STATUS] = {"BLOCK_STATUS",
				  NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_REQ_ONE, 0,
				  true, false, false, NBD_EINVAL},
};

const char *nbd_cmd_name(uint16_t type)
{
	return type < NBD_CMD_COUNT ? nbd_cmd_rules[type].name : "UNKNOWN";
}

const char *nbd_opt_name(uint32_t opt)
{
	static const char *const names[] = {
		[NBD_OPT_EXPORT_NAME] = "EXPORT_NAME",
		[NBD_OPT_ABORT] = "ABORT",
		[NBD_OPT_LIST] = "LIST",
		[NBD_OPT_PEEK_EXPORT] = "PEEK_EXPORT",
		[NBD_OPT_STARTTLS] = "STARTTLS",
		[NBD_OPT_INFO] = "INFO",
		[NBD_OPT_GO] = "GO",
		[NBD_OPT_STRUCTURED_REPLY] = "STRUCTURED_REPLY",
		[NBD_OPT_LIST_META_CONTEXT] = "LIST_META_CONTEXT",
		[NBD_OPT_SET_META_CONTEXT] = "SET_META_CONTEXT",
		[NBD_OPT_EXTENDED_HEADERS] = "EXTENDED_HEADERS",
	};
	if (opt < sizeof(names) / sizeof(names[0]) && names[opt])
		return names[opt];
	return "UNKNOWN";
}

uint32_t nbd_request_check(const struct nbd_request *r,
			   const struct nbd_export_limits *lim)
{
	const struct nbd_cmd_rule *rule;
	uint16_t ok;

	if (r->type >= NBD_CMD_COUNT)
		return NBD_EINVAL;
	rule = &nbd_cmd_rules[r->type];
	if (rule->needs_tflag && !(lim->tflags & rule->needs_tflag))
		return NBD_EINVAL;

	/* Flags the command knows, narrowed by what was negotiated. */
	ok = rule->flags_ok;
	if (!(lim->tflags & NBD_FLAG_SEND_FUA))
		ok &= (uint16_t)~NBD_CMD_FLAG_FUA;
	if (!(lim->tflags & NBD_FLAG_SEND_DF))
		ok &= (uint16_t)~NBD_CMD_FLAG_DF;
	if (!(lim->tflags & NBD_FLAG_SEND_FAST_ZERO))
		ok &= (uint16_t)~NBD_CMD_FLAG_FAST_ZERO;
	if (r->flags & ~ok)
		return NBD_EINVAL;

	if (r->type == NBD_CMD_BLOCK_STATUS &&
	    (!lim->structured || !lim->meta_alloc))
		return NBD_EINVAL;

	if (!rule->has_range) {
		/* FLUSH and DISC carry no range: offset and length are
		 * reserved and must be zero. */
		if (r->offset || r->length)
			return NBD_EINVAL;
		return 0;
	}

	if (rule->writes && (lim->tflags & NBD_FLAG_READ_ONLY))
		return NBD_EPERM;
	if (r->offset > lim->size || r->length > lim->size - r->offset)
		return rule->past_end_err;
	if (lim->min_block > 1 &&
	    ((r->offset | r->length) & (lim->min_block - 1)))
		return NBD_EINVAL;
	if (rule->bounded && r->length > lim->max_block)
		return NBD_EINVAL;
	if (r->type == NBD_CMD_BLOCK_STATUS && r->length == 0)
		return NBD_EINVAL;
	return 0;
}

/* errno -> NBD error; anything not listed is an I/O error. */
static const struct {
	int err;
	uint32_t wire;
} nbd_errno_map[] = {
	{EPERM, NBD_EPERM},	   {EROFS, NBD_EPERM},
	{EACCES, NBD_EPERM},	   {EIO, NBD_EIO},
	{ENOMEM, NBD_ENOMEM},	   {EINVAL, NBD_EINVAL},
	{ERANGE, NBD_EINVAL},	   {ENOSPC, NBD_ENOSPC},
	{EDQUOT, NBD_ENOSPC},	   {EFBIG, NBD_ENOSPC},
	{EOVERFLOW, NBD_EOVERFLOW}, {ENOTSUP, NBD_ENOTSUP},
	{ESHUTDOWN, NBD_ESHUTDOWN},
};

uint32_t nbd_errno_to_wire(int neg_errno)
{
	int e = neg_errno < 0 ? -neg_errno : neg_errno;
	size_t i;

	if (e == 0)
		return 0;
	for (i = 0; i < sizeof(nbd_errno_map) / sizeof(nbd_errno_map[0]); i++)
		if (nbd_errno_map[i].err == e)
			return nbd_errno_map[i].wire;
	return NBD_EIO;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

void nbd_block_sizes_from_geometry(const struct bdev_geometry *geo,
				   struct nbd_block_sizes *bs)
{
	uint32_t min = geo->lbsize;
	uint32_t pref = geo->pbsize;
	uint32_t max = geo->max_xfer;

	/* The protocol wants a power-of-two minimum of at most 64 KiB and a
	 * power-of-two preferred size of at least max(min, 512). */
	if (!is_pow2(min) || min > 65536)
		min = 512;
	if (!is_pow2(pref) || pref < min || pref < 512)
		pref = min < 4096 ? 4096 : min;
	if (max == 0 || max > NBD_MAX_BLOCK_DEFAULT)
		max = NBD_MAX_BLOCK_DEFAULT;
	max -= max % min;
	if (max < pref)
		max = pref;
	bs->min = min;
	bs->pref = pref;
	bs->max = max;
}

uint16_t nbd_tflags_from_geometry(const struct bdev_geometry *geo)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_CACHE;

	if (geo->read_only) {
		f |= NBD_FLAG_READ_ONLY;
	} else {
		f |= NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
		if (geo->can_discard)
			f |= NBD_FLAG_SEND_TRIM;
		if (geo->can_write_zeroes)
			f |= NBD_FLAG_SEND_WRITE_ZEROES |
			     NBD_FLAG_SEND_FAST_ZERO;
	}
	if (geo->multi_conn_safe)
		f |= NBD_FLAG_CAN_MULTI_CONN;
	return f;
}

size_t nbd_put_simple_reply(uint8_t *p, uint32_t error, uint64_t cookie)
{
	nbd_put32(p, NBD_MAGIC_SIMPLE_REPLY);
	nbd_put32(p + 4, error);
	nbd_put64(p + 8, cookie);
	return NBD_SIMPLE_REPLY_LEN;
}

size_t nbd_put_chunk_hdr(uint8_t *p, uint16_t flags, uint16_t type,
			 uint64_t cookie, uint32_t payload_len)
{
	nbd_put32(p, NBD_MAGIC_STRUCTURED_REPLY);
	nbd_put16(p + 4, flags);
	nbd_put16(p + 6, type);
	nbd_put64(p + 8, cookie);
	nbd_put32(p + 16, payload_len);
	return NBD_CHUNK_HDR_LEN;
}

size_t nbd_put_error_chunk(uint8_t *p, uint16_t flags, uint64_t cookie,
			   uint32_t error, const char *msg, size_t msg_max,
			   bool has_offset, uint64_t offset)
{
	size_t mlen = msg ? strlen(msg) : 0;
	size_t payload;
	uint8_t *q;

	if (mlen > msg_max)
		mlen = msg_max;
	payload = 4 + 2 + mlen + (has_offset ? 8 : 0);
	nbd_put_chunk_hdr(p, flags,
			  has_offset ? NBD_REPLY_TYPE_ERROR_OFFSET
				     : NBD_REPLY_TYPE_ERROR,
			  cookie, (uint32_t)payload);
	q = p + NBD_CHUNK_HDR_LEN;
	nbd_put32(q, error ? error : NBD_EIO);
	nbd_put16(q + 4, (uint16_t)mlen);
	if (mlen)
		memcpy(q + 6, msg, mlen);
	if (has_offset)
		nbd_put64(q + 6 + mlen, offset);
	return NBD_CHUNK_HDR_LEN + payload;
}

size_t nbd_put_opt_reply_hdr(uint8_t *p, uint32_t opt, uint32_t type,
			     uint32_t len)
{
	nbd_put64(p, NBD_MAGIC_OPT_REPLY);
	nbd_put32(p + 8, opt);
	nbd_put32(p + 12, type);
	nbd_put32(p + 16, len);
	return NBD_OPT_REPLY_HDR_LEN;
}
