/*
 * The target side of the iSCSI login phase (RFC 7143 sections 6 and 7):
 * one state machine per connection that turns each Login Request into a
 * Login Response, running security (None or CHAP, one-way or mutual) and
 * operational negotiation.  It does no I/O: the connection hands it PDUs
 * and sends what it builds; lookups of targets and secrets go through
 * iscsi_login_ops, so it is unit-tested without sockets.
 *
 * States and transitions:
 *   LOGIN_START     first PDU: names, session type, target lookup, ACL;
 *                   then SECURITY (CSG 0) or OPERATIONAL (CSG 1, only when
 *                   the target needs no authentication)
 *   LOGIN_SECURITY  AuthMethod, then CHAP_A -> challenge -> CHAP_N/CHAP_R
 *                   (chap_state); T bit with NSG 1 -> OPERATIONAL, NSG 3 ->
 *                   DONE, once authentication has succeeded
 *   LOGIN_OPERATIONAL  operational keys; T bit with NSG 3 -> DONE
 *   LOGIN_DONE      full feature phase (the caller creates the session)
 *   LOGIN_FAILED    a response with a non-zero status was built; close
 */
#ifndef SCSIKIT_ISCSI_LOGIN_H
#define SCSIKIT_ISCSI_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "iscsi/chap.h"
#include "iscsi/params.h"
#include "iscsi/text.h"

#define ISCSI_NAME_MAX 223	/* RFC 7143 6.1: iSCSI names */
#define ISCSI_CHAP_NAME_MAX 255
#define ISCSI_LOGIN_TEXT_MAX 65536 /* login text gathered across C bits */

enum iscsi_login_state {
	LOGIN_START = 0,
	LOGIN_SECURITY,
	LOGIN_OPERATIONAL,
	LOGIN_DONE,
	LOGIN_FAILED,
};

enum iscsi_chap_state {
	CHAP_NONE = 0,	/* no CHAP chosen */
	CHAP_WAIT_A,	/* AuthMethod=CHAP answered; expecting CHAP_A */
	CHAP_WAIT_R,	/* challenge sent; expecting CHAP_N/CHAP_R */
	CHAP_OK,	/* initiator authenticated */
};

/* What the target side knows about one target (or the discovery service)
 * for a login; filled by iscsi_login_ops.lookup. */
struct iscsi_login_target {
	char name[ISCSI_NAME_MAX + 1];
	char alias[64];
	uint16_t tpgt;
	bool chap;		/* CHAP required */
	char chap_user[ISCSI_CHAP_NAME_MAX + 1];
	char chap_secret[ISCSI_CHAP_SECRET_MAX + 1];
	bool mutual;		/* a secret to answer the initiator with */
	char mutual_user[ISCSI_CHAP_NAME_MAX + 1];
	char mutual_secret[ISCSI_CHAP_SECRET_MAX + 1];
	struct iscsi_params pref; /* what this target prefers */
};

struct iscsi_login_ops {
	/*
	 * Look up target_name (NULL for a discovery session) for
	 * initiator_name and fill t.  Returns 0, or a login status
	 * (ISCSI_LS_NOT_FOUND, ISCSI_LS_AUTHZ_FAILED, ...).  Valid only
	 * during this call: copy what is needed into t.
	 */
	uint16_t (*lookup)(void *arg, const char *target_name,
			   const char *initiator_name,
			   struct iscsi_login_target *t);
};

struct iscsi_login {
	enum iscsi_login_state state;
	enum iscsi_chap_state chap_state;
	const struct iscsi_login_ops *ops;
	void *ops_arg;

	/* From the first PDU. */
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t cid;
	uint32_t itt;
	uint32_t cmdsn;
	bool discovery;
	char initiator_name[ISCSI_NAME_MAX + 1];
	char initiator_alias[ISCSI_NAME_MAX + 1];

	struct iscsi_login_target tgt;
	struct iscsi_params params;	/* negotiated so far */
	bool sent_tpgt;
	bool sent_mrdsl;

	/* CHAP. */
	int chap_alg;
	uint8_t chap_id;
	uint8_t chap_challenge[ISCSI_CHAP_CHALLENGE_LEN];

	/* Text continued across PDUs with the C bit. */
	char *cont;
	uint32_t cont_len;

	uint16_t fail_status;	/* last failure, for logs */
};

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_ops *ops,
		      void *ops_arg, uint32_t our_max_recv_dsl);
void iscsi_login_free(struct iscsi_login *l);

/*
 * Handle one Login Request (bhs + dlen bytes of data) and build the Login
 * Response header in rsp (48 bytes; StatSN/ExpCmdSN/MaxCmdSN and, on
 * LOGIN_DONE, the TSIH are the caller's) and its text in out.  Returns the
 * new state; on LOGIN_FAILED rsp carries the status.
 */
enum iscsi_login_state iscsi_login_step(struct iscsi_login *l,
					const uint8_t *bhs, const char *data,
					uint32_t dlen, uint8_t *rsp,
					struct iscsi_text_out *out);

/* Set the status of rsp to a failure (used by the caller when session
 * creation fails after LOGIN_DONE). */
void iscsi_login_rsp_fail(uint8_t *rsp, uint16_t status);

#endif
