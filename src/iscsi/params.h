/*
 * iSCSI operational parameters and their negotiation (RFC 7143 section 13).
 *
 * The rules are data: one row per key with its kind (boolean AND/OR,
 * numeric min/max/declarative, list), range and default.  The responder
 * side (iscsi_params_respond) is what a target does with an initiator's
 * offers; iscsi_params_accept is what an initiator does with the answers to
 * its own offers.  Both are pure functions over struct iscsi_params.
 */
#ifndef SCSIKIT_ISCSI_PARAMS_H
#define SCSIKIT_ISCSI_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "iscsi/text.h"

/* Digest choices (bit mask of acceptable ones for a list key). */
#define ISCSI_DIGEST_NONE 0x1u
#define ISCSI_DIGEST_CRC32C 0x2u

/*
 * Values in force on a connection/session.  Every field is a number so the
 * key table can address them by offset; booleans are 0/1, digests are
 * ISCSI_DIGEST_* (a single bit once negotiated, a mask of acceptable values
 * in a preference set).
 */
struct iscsi_params {
	uint32_t header_digest;
	uint32_t data_digest;
	uint32_t max_connections;
	uint32_t initial_r2t;
	uint32_t immediate_data;
	uint32_t max_recv_dsl;	/* what this side accepts (declared) */
	uint32_t max_xmit_dsl;	/* what the peer accepts (peer declared) */
	uint32_t max_burst;
	uint32_t first_burst;
	uint32_t time2wait;
	uint32_t time2retain;
	uint32_t max_outstanding_r2t;
	uint32_t data_pdu_in_order;
	uint32_t data_seq_in_order;
	uint32_t erl;
	uint32_t if_marker;	/* obsolete markers: always No */
	uint32_t of_marker;
	uint32_t protocol_level; /* iSCSIProtocolLevel (RFC 7144) */
};

/* The RFC defaults (what is in force when a key is not negotiated). */
void iscsi_params_defaults(struct iscsi_params *p);

/* Why a key may not be accepted where it appeared. */
enum iscsi_key_rule {
	ISCSI_KEY_OK = 0,
	ISCSI_KEY_UNKNOWN,	/* not a key we know: answer NotUnderstood */
	ISCSI_KEY_NOT_OPERATIONAL, /* a login/security/text key: the caller's */
};

/*
 * Target side: answer one offer.  pref is this side's preferences (for
 * list keys a mask of acceptable values; for numeric keys the value this
 * side would offer); cur receives the result.  The answer ("key=value") is
 * appended to out unless the key is declarative.  Returns ISCSI_KEY_OK,
 * ISCSI_KEY_UNKNOWN (NotUnderstood already appended) or
 * ISCSI_KEY_NOT_OPERATIONAL (nothing done; the caller handles the key).
 */
enum iscsi_key_rule iscsi_params_respond(struct iscsi_params *cur,
					 const struct iscsi_params *pref,
					 const struct iscsi_kv *kv,
					 struct iscsi_text_out *out);

/*
 * Initiator side: take the answer kv to an offer made from pref (or a
 * declaration from the target, such as MaxRecvDataSegmentLength) into cur.
 * Returns 0, or -EINVAL when the answer breaks the key's rule (a min key
 * answered above the offer, a bad value, Reject of a key that must be
 * accepted); -ENOENT for a key that is not operational.
 */
int iscsi_params_accept(struct iscsi_params *cur,
			const struct iscsi_params *pref,
			const struct iscsi_kv *kv);

/*
 * Append the offers an initiator makes from pref (every operational key
 * that has a non-default value or that is always sent), for reuse by the
 * initiator.
 */
void iscsi_params_offer(const struct iscsi_params *pref, bool discovery,
			struct iscsi_text_out *out);

/* Settle rules that span keys once negotiation is done: FirstBurstLength
 * never above MaxBurstLength. */
void iscsi_params_finish(struct iscsi_params *cur);

#endif
