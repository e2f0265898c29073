/*
 * iSCSI text keys (RFC 7143 section 6): data segments of Login and Text
 * PDUs hold "key=value" pairs, each ended by a NUL.  Pure parsing and
 * building over caller-owned buffers, for both target and initiator.
 */
#ifndef SCSIKIT_ISCSI_TEXT_H
#define SCSIKIT_ISCSI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_KEY_MAX 63	   /* longest key name (RFC 7143 6.1) */
#define ISCSI_VALUE_MAX 8192	   /* longest value we take (CHAP_C/R) */
#define ISCSI_TEXT_MAX_PAIRS 128   /* pairs in one negotiation step */

/* One pair; key and value point into the parsed buffer. */
struct iscsi_kv {
	char key[ISCSI_KEY_MAX + 1];
	const char *value;	/* NUL-terminated, inside the buffer */
	uint32_t value_len;
};

/*
 * Parse len bytes of pairs.  The buffer must end with a NUL (a last pair
 * without one is a protocol error, as is a pair without '=', an empty or
 * too long key, a too long value, or more than max pairs).  Trailing NUL
 * padding is ignored.  Returns the number of pairs or -EINVAL / -E2BIG.
 */
int iscsi_text_parse(const char *buf, size_t len, struct iscsi_kv *kv,
		     unsigned max);

/* Look up key in kv[0..n-1]; NULL when absent. */
const struct iscsi_kv *iscsi_text_find(const struct iscsi_kv *kv, unsigned n,
				       const char *key);

/* A growing list of pairs to send, in a caller-given buffer. */
struct iscsi_text_out {
	char *buf;
	size_t len;
	size_t cap;
	bool overflow;		/* something did not fit */
};

void iscsi_text_out_init(struct iscsi_text_out *o, char *buf, size_t cap);
/* Append "key=value\0"; sets overflow (and appends nothing) if full. */
void iscsi_text_add(struct iscsi_text_out *o, const char *key,
		    const char *value);
void iscsi_text_addf(struct iscsi_text_out *o, const char *key,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Iterate the comma-separated values of a list value: copies the next item
 * at *pos into item (NUL-terminated, truncated to itemlen-1) and advances
 * *pos; returns false at the end.
 */
bool iscsi_text_list_next(const char **pos, char *item, size_t itemlen);

/* Numbers: decimal, or 0x hex (RFC 7143 5.1 "number" values).  Returns 0
 * or -EINVAL (also on overflow of 64 bits). */
int iscsi_text_number(const char *s, uint64_t *out);

/* Boolean "Yes"/"No": 1, 0, or -EINVAL. */
int iscsi_text_bool(const char *s);

#endif
