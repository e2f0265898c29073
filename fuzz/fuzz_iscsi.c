/*
 * libFuzzer harness for the iSCSI wire parsers that take bytes from the
 * network before any authentication: PDU framing and the LUN field, text
 * key parsing, operational key negotiation, CHAP value decoding, and the
 * whole target login state machine fed a sequence of Login Requests.
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/chap.h"
#include "iscsi/login.h"
#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two targets: one open, one behind mutual CHAP. */
static uint16_t fz_lookup(void *arg, const char *target_name,
			  const char *initiator_name,
			  struct iscsi_login_target *t)
{
	(void)arg;
	(void)initiator_name;
	iscsi_params_defaults(&t->pref);
	t->pref.header_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	t->pref.max_recv_dsl = 65536;
	if (target_name == NULL || strcmp(target_name, "iqn.a") == 0)
		return 0;
	if (strcmp(target_name, "iqn.c") == 0) {
		t->chap = t->mutual = true;
		strcpy(t->chap_user, "u");
		strcpy(t->chap_secret, "secret-one");
		strcpy(t->mutual_user, "t");
		strcpy(t->mutual_secret, "secret-two");
		return 0;
	}
	return ISCSI_LS_NOT_FOUND;
}

static const struct iscsi_login_ops fz_ops = {.lookup = fz_lookup};

static void fuzz_text(const uint8_t *data, size_t size)
{
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];
	struct iscsi_params cur, pref;
	char out[4096];
	struct iscsi_text_out o;
	uint8_t bin[ISCSI_CHAP_MAX_BINARY];

	int n = iscsi_text_parse((const char *)data, size, kv,
				 ISCSI_TEXT_MAX_PAIRS);
	iscsi_params_defaults(&cur);
	iscsi_params_defaults(&pref);
	pref.header_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	iscsi_text_out_init(&o, out, sizeof(out));
	for (int i = 0; i < n; i++) {
		iscsi_params_respond(&cur, &pref, &kv[i], &o);
		iscsi_params_accept(&cur, &pref, &kv[i]);
		iscsi_chap_decode(kv[i].value, bin, sizeof(bin));
		iscsi_chap_select(kv[i].value);
	}
	iscsi_params_finish(&cur);
}

/* The input as consecutive Login Requests: a BHS, then its data segment
 * as far as the input goes. */
static void fuzz_login(const uint8_t *data, size_t size)
{
	struct iscsi_login l;
	uint8_t rsp[ISCSI_BHS_LEN];
	char out[8192];
	struct iscsi_text_out o;

	iscsi_login_init(&l, &fz_ops, NULL, 65536);
	while (size >= ISCSI_BHS_LEN && l.state != LOGIN_FAILED &&
	       l.state != LOGIN_DONE) {
		const uint8_t *bhs = data;
		struct iscsi_pdu_frame f;
		if (iscsi_pdu_frame(bhs, false, false, 8192, &f) < 0)
			break;
		(void)iscsi_lun_decode(bhs + 8);
		size_t dlen = f.dsl;
		if (dlen > size - ISCSI_BHS_LEN)
			dlen = size - ISCSI_BHS_LEN;
		/* The data goes in a buffer of its own size, so reads past
		 * the segment are caught. */
		char *seg = malloc(dlen ? dlen : 1);
		if (seg == NULL)
			break;
		memcpy(seg, data + ISCSI_BHS_LEN, dlen);
		iscsi_text_out_init(&o, out, sizeof(out));
		iscsi_login_step(&l, bhs, seg, (uint32_t)dlen, rsp, &o);
		free(seg);
		data += ISCSI_BHS_LEN + dlen;
		size -= ISCSI_BHS_LEN + dlen;
	}
	iscsi_login_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	/* The first byte picks the parser, so one corpus covers all. */
	if (data[0] & 1)
		fuzz_text(data + 1, size - 1);
	else
		fuzz_login(data + 1, size - 1);
	return 0;
}
