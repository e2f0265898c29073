/*
 * iSCSI operational key negotiation (see params.h).  The rules of RFC 7143
 * section 13 live in key_table below, one row per key; the code only
 * implements the handful of result functions.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "iscsi/params.h"

enum key_kind {
	KEY_BOOL_AND,	/* result = offer AND responder's value */
	KEY_BOOL_OR,	/* result = offer OR responder's value */
	KEY_NUM_MIN,	/* result = lesser of the two */
	KEY_NUM_MAX,	/* result = greater of the two */
	KEY_NUM_DECL,	/* declarative number about the sender */
	KEY_DIGEST,	/* list of None/CRC32C: responder picks the first */
	KEY_PROTO_LEVEL, /* iSCSIProtocolLevel: lesser, no Reject */
};

struct key_def {
	const char *name;
	enum key_kind kind;
	uint32_t min, max;	/* valid range for numbers */
	size_t off;		/* field in struct iscsi_params */
	uint32_t dflt;		/* RFC default */
};

#define P(f) offsetof(struct iscsi_params, f)

/* RFC 7143 section 13 (and RFC 7144 for iSCSIProtocolLevel). */
static const struct key_def key_table[] = {
	{"HeaderDigest", KEY_DIGEST, 0, 0, P(header_digest), ISCSI_DIGEST_NONE},
	{"DataDigest", KEY_DIGEST, 0, 0, P(data_digest), ISCSI_DIGEST_NONE},
	{"MaxConnections", KEY_NUM_MIN, 1, 65535, P(max_connections), 1},
	{"InitialR2T", KEY_BOOL_OR, 0, 1, P(initial_r2t), 1},
	{"ImmediateData", KEY_BOOL_AND, 0, 1, P(immediate_data), 1},
	{"MaxRecvDataSegmentLength", KEY_NUM_DECL, 512, 16777215,
	 P(max_xmit_dsl), 8192},
	{"MaxBurstLength", KEY_NUM_MIN, 512, 16777215, P(max_burst), 262144},
	{"FirstBurstLength", KEY_NUM_MIN, 512, 16777215, P(first_burst),
	 65536},
	{"DefaultTime2Wait", KEY_NUM_MAX, 0, 3600, P(time2wait), 2},
	{"DefaultTime2Retain", KEY_NUM_MIN, 0, 3600, P(time2retain), 20},
	{"MaxOutstandingR2T", KEY_NUM_MIN, 1, 65535, P(max_outstanding_r2t),
	 1},
	{"DataPDUInOrder", KEY_BOOL_OR, 0, 1, P(data_pdu_in_order), 1},
	{"DataSequenceInOrder", KEY_BOOL_OR, 0, 1, P(data_seq_in_order), 1},
	{"ErrorRecoveryLevel", KEY_NUM_MIN, 0, 2, P(erl), 0},
	/* Markers are obsolete (RFC 7143 drops them); AND with our No. */
	{"IFMarker", KEY_BOOL_AND, 0, 1, P(if_marker), 0},
	{"OFMarker", KEY_BOOL_AND, 0, 1, P(of_marker), 0},
	{"iSCSIProtocolLevel", KEY_PROTO_LEVEL, 0, 31, P(protocol_level), 0},
};

#define NKEYS (sizeof(key_table) / sizeof(key_table[0]))

/* Keys that are answered but carry no state here: the value is fixed. */
struct fixed_key {
	const char *name;
	const char *answer;
};
static const struct fixed_key fixed_keys[] = {
	/* Marker intervals are irrelevant once markers are No. */
	{"IFMarkInt", "Irrelevant"},
	{"OFMarkInt", "Irrelevant"},
	/* RFC 7143 13.23: only the RFC 3720 task reporting is offered. */
	{"TaskReporting", "RFC3720"},
	/* iSER (RFC 7145) is not supported over TCP. */
	{"RDMAExtensions", "No"},
};

static uint32_t *field(struct iscsi_params *p, const struct key_def *d)
{
	return (uint32_t *)((char *)p + d->off);
}

static uint32_t cfield(const struct iscsi_params *p, const struct key_def *d)
{
	return *(const uint32_t *)((const char *)p + d->off);
}

void iscsi_params_defaults(struct iscsi_params *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < NKEYS; i++)
		*field(p, &key_table[i]) = key_table[i].dflt;
	p->max_recv_dsl = 8192;
}

static const struct key_def *key_lookup(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(key_table[i].name, name) == 0)
			return &key_table[i];
	return NULL;
}

/* Answers that are not values: the peer said it cannot negotiate. */
static bool is_special(const char *v)
{
	return strcmp(v, "NotUnderstood") == 0 ||
	       strcmp(v, "Irrelevant") == 0 || strcmp(v, "Reject") == 0;
}

static const char *digest_name(uint32_t d)
{
	return d == ISCSI_DIGEST_CRC32C ? "CRC32C" : "None";
}

static uint32_t digest_parse(const char *s)
{
	if (strcmp(s, "CRC32C") == 0)
		return ISCSI_DIGEST_CRC32C;
	if (strcmp(s, "None") == 0)
		return ISCSI_DIGEST_NONE;
	return 0;
}

enum iscsi_key_rule iscsi_params_respond(struct iscsi_params *cur,
					 const struct iscsi_params *pref,
					 const struct iscsi_kv *kv,
					 struct iscsi_text_out *out)
{
	const struct key_def *d = key_lookup(kv->key);

	if (d == NULL) {
		for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]);
		     i++)
			if (strcmp(fixed_keys[i].name, kv->key) == 0) {
				if (!is_special(kv->value))
					iscsi_text_add(out, kv->key,
						       fixed_keys[i].answer);
				return ISCSI_KEY_OK;
			}
		return ISCSI_KEY_UNKNOWN;
	}
	/* An offer of NotUnderstood/Irrelevant/Reject needs no answer. */
	if (is_special(kv->value))
		return ISCSI_KEY_OK;

	uint32_t mine = cfield(pref, d);
	uint64_t num;
	int b;

	switch (d->kind) {
	case KEY_BOOL_AND:
	case KEY_BOOL_OR:
		b = iscsi_text_bool(kv->value);
		if (b < 0) {
			iscsi_text_add(out, d->name, "Reject");
			return ISCSI_KEY_OK;
		}
		*field(cur, d) = d->kind == KEY_BOOL_AND ? (b && mine)
							 : (b || mine);
		iscsi_text_add(out, d->name, *field(cur, d) ? "Yes" : "No");
		return ISCSI_KEY_OK;
	case KEY_NUM_MIN:
	case KEY_NUM_MAX:
	case KEY_PROTO_LEVEL:
		if (iscsi_text_number(kv->value, &num) < 0 || num < d->min ||
		    num > d->max) {
			iscsi_text_add(out, d->name, "Reject");
			return ISCSI_KEY_OK;
		}
		if (d->kind == KEY_NUM_MAX)
			*field(cur, d) = num > mine ? (uint32_t)num : mine;
		else
			*field(cur, d) = num < mine ? (uint32_t)num : mine;
		iscsi_text_addf(out, d->name, "%u", *field(cur, d));
		return ISCSI_KEY_OK;
	case KEY_NUM_DECL:
		/* A declaration about the sender: remember it, no answer.
		 * Out-of-range values are clamped into range. */
		if (iscsi_text_number(kv->value, &num) < 0) {
			iscsi_text_add(out, d->name, "Reject");
			return ISCSI_KEY_OK;
		}
		if (num < d->min)
			num = d->min;
		if (num > d->max)
			num = d->max;
		*field(cur, d) = (uint32_t)num;
		return ISCSI_KEY_OK;
	case KEY_DIGEST: {
		const char *pos = kv->value;
		char item[32];
		while (iscsi_text_list_next(&pos, item, sizeof(item))) {
			uint32_t v = digest_parse(item);
			if ((v & mine) != 0) {
				*field(cur, d) = v;
				iscsi_text_add(out, d->name, digest_name(v));
				return ISCSI_KEY_OK;
			}
		}
		iscsi_text_add(out, d->name, "Reject");
		return ISCSI_KEY_OK;
	}
	}
	return ISCSI_KEY_UNKNOWN;
}

int iscsi_params_accept(struct iscsi_params *cur,
			const struct iscsi_params *pref,
			const struct iscsi_kv *kv)
{
	const struct key_def *d = key_lookup(kv->key);
	uint64_t num;
	int b;

	if (d == NULL)
		return -ENOENT;
	uint32_t mine = cfield(pref, d);
	if (is_special(kv->value)) {
		/* The default stays in force. */
		*field(cur, d) = d->dflt;
		return strcmp(kv->value, "Reject") == 0 &&
			       d->kind == KEY_DIGEST && !(mine & d->dflt)
			       ? -EINVAL
			       : 0;
	}
	switch (d->kind) {
	case KEY_BOOL_AND:
	case KEY_BOOL_OR:
		b = iscsi_text_bool(kv->value);
		if (b < 0)
			return -EINVAL;
		/* AND: the answer may only lower Yes to No; OR: only raise. */
		if (d->kind == KEY_BOOL_AND && b && !mine)
			return -EINVAL;
		if (d->kind == KEY_BOOL_OR && !b && mine)
			return -EINVAL;
		*field(cur, d) = (uint32_t)b;
		return 0;
	case KEY_NUM_MIN:
	case KEY_NUM_MAX:
	case KEY_PROTO_LEVEL:
	case KEY_NUM_DECL:
		if (iscsi_text_number(kv->value, &num) < 0 || num < d->min ||
		    num > d->max)
			return -EINVAL;
		if ((d->kind == KEY_NUM_MIN || d->kind == KEY_PROTO_LEVEL) &&
		    num > mine)
			return -EINVAL;
		if (d->kind == KEY_NUM_MAX && num < mine)
			return -EINVAL;
		*field(cur, d) = (uint32_t)num;
		return 0;
	case KEY_DIGEST: {
		uint32_t v = digest_parse(kv->value);
		if (v == 0 || (v & mine) == 0)
			return -EINVAL;
		*field(cur, d) = v;
		return 0;
	}
	}
	return -EINVAL;
}

void iscsi_params_offer(const struct iscsi_params *pref, bool discovery,
			struct iscsi_text_out *out)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *d = &key_table[i];
		uint32_t v = cfield(pref, d);
		if (discovery && d->kind != KEY_DIGEST &&
		    d->kind != KEY_NUM_DECL)
			continue;
		switch (d->kind) {
		case KEY_BOOL_AND:
		case KEY_BOOL_OR:
			iscsi_text_add(out, d->name, v ? "Yes" : "No");
			break;
		case KEY_DIGEST:
			if (v == (ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C))
				iscsi_text_add(out, d->name, "CRC32C,None");
			else
				iscsi_text_add(out, d->name, digest_name(v));
			break;
		case KEY_NUM_DECL:
			/* We declare what we receive, not what we send. */
			iscsi_text_addf(out, d->name, "%u", pref->max_recv_dsl);
			break;
		case KEY_PROTO_LEVEL:
			break;
		default:
			iscsi_text_addf(out, d->name, "%u", v);
			break;
		}
	}
}

void iscsi_params_finish(struct iscsi_params *cur)
{
	if (cur->first_burst > cur->max_burst)
		cur->first_burst = cur->max_burst;
}
