/*
 * The vscsi wire format: encoders and parsers round-trip, and every parser
 * refuses short, long or inconsistent input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <scsikit/vscsi.h>

#include "vscsi/vscsi_wire.h"

static void test_hdr(void **state)
{
	uint8_t b[VSCSI_HDR_LEN + 4] = {0};
	struct vscsi_hdr h = {.len = 20, .type = VSCSI_MSG_T2I,
			      .flags = VSCSI_F_ACK, .tag = 0xdeadbeef,
			      .aux = 7};
	struct vscsi_hdr o;

	(void)state;
	vscsi_hdr_encode(b, &h);
	assert_int_equal(vscsi_hdr_parse(b, 3, 1000, &o), 0);
	assert_int_equal(vscsi_hdr_parse(b, 16, 1000, &o), 0); /* body */
	assert_int_equal(vscsi_hdr_parse(b, 20, 1000, &o), 1);
	assert_int_equal(o.len, 20);
	assert_int_equal(o.type, VSCSI_MSG_T2I);
	assert_int_equal(o.flags, VSCSI_F_ACK);
	assert_int_equal(o.tag, 0xdeadbeef);
	assert_int_equal(o.aux, 7);
	/* Framing: below the header, above the maximum. */
	vscsi_put32(b, 15);
	assert_int_equal(vscsi_hdr_parse(b, 20, 1000, &o), -EPROTO);
	vscsi_put32(b, 1001);
	assert_int_equal(vscsi_hdr_parse(b, 20, 1000, &o), -EPROTO);
	vscsi_put32(b, 0xffffffffu);
	assert_int_equal(vscsi_hdr_parse(b, 4, 1000, &o), -EPROTO);
}

static void test_cmd(void **state)
{
	uint8_t b[VSCSI_CMD_LEN + 8];
	struct vscsi_cmd_body c = {.target = 255, .data_len = 8,
				   .lun = 17, .dir = VSCSI_DIR_WRITE,
				   .cdb_len = 10, .tag_action = 0x20,
				   .flags = VSCSI_CMD_F_INLINE};
	struct vscsi_cmd_body o;

	(void)state;
	c.cdb[0] = 0x2a;
	c.cdb[9] = 0x55;
	vscsi_cmd_encode(b, &c);
	memset(b + VSCSI_CMD_LEN, 0xab, 8);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), 0);
	assert_int_equal(o.target, 255);
	assert_int_equal(o.lun, 17);
	assert_int_equal(o.data_len, 8);
	assert_int_equal(o.cdb_len, 10);
	assert_int_equal(o.cdb[9], 0x55);
	assert_int_equal(o.flags, VSCSI_CMD_F_INLINE);
	/* Inline write data must be all there, and nothing more. */
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b) - 1, &o), -EINVAL);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN - 1, &o), -EINVAL);
	/* Without INLINE a write has no data here (DATA_WRITE pulls it). */
	c.flags = 0;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), 0);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), -EINVAL);
	/* INLINE only on a write; unknown flags refused (0x04), SHM without
	 * its reference too. */
	c.flags = 0x04;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), -EINVAL);
	c.flags = VSCSI_CMD_F_SHM;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), -EINVAL);
	c.dir = VSCSI_DIR_READ;
	c.flags = VSCSI_CMD_F_INLINE;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), -EINVAL);
	c.dir = VSCSI_DIR_WRITE;
	c.flags = VSCSI_CMD_F_INLINE;
	/* Bad CDB length, bad direction, NONE with data. */
	c.cdb_len = 33;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), -EINVAL);
	c.cdb_len = 0;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), -EINVAL);
	c.cdb_len = 6;
	c.dir = 3;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, sizeof(b), &o), -EINVAL);
	c.dir = VSCSI_DIR_NONE;
	c.flags = 0;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), -EINVAL);
	c.data_len = 0;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), 0);
	/* READ carries no data inline. */
	c.dir = VSCSI_DIR_READ;
	c.data_len = 4096;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN, &o), 0);
	assert_int_equal(vscsi_cmd_parse(b, VSCSI_CMD_LEN + 1, &o), -EINVAL);
}

static void test_t2i(void **state)
{
	uint8_t b[VSCSI_T2I_LEN + 18 + 5];
	struct vscsi_t2i_view v;

	(void)state;
	memset(b, 0, sizeof(b));
	b[0] = VSCSI_STAT_SENSE;
	b[2] = 18;
	vscsi_put32(b + 4, 0);
	assert_int_equal(vscsi_t2i_parse(b, sizeof(b), &v), 0);
	assert_int_equal(v.sense_len, 18);
	assert_int_equal(v.data_len, 5);
	assert_ptr_equal(v.sense, b + VSCSI_T2I_LEN);
	assert_ptr_equal(v.data, b + VSCSI_T2I_LEN + 18);
	/* Sense longer than the body, short body, sense beyond the max. */
	assert_int_equal(vscsi_t2i_parse(b, VSCSI_T2I_LEN + 17, &v), -EINVAL);
	assert_int_equal(vscsi_t2i_parse(b, VSCSI_T2I_LEN - 1, &v), -EINVAL);
	b[2] = 253;
	assert_int_equal(vscsi_t2i_parse(b, sizeof(b), &v), -EINVAL);
}

/* Version 3: the area references of CMD and T2I, and the range check. */
static void test_shm_refs(void **state)
{
	uint8_t b[VSCSI_CMD_LEN + VSCSI_SHM_REF_LEN + 1];
	struct vscsi_cmd_body c = {.data_len = 4096, .dir = VSCSI_DIR_READ,
				   .cdb_len = 10, .flags = VSCSI_CMD_F_SHM,
				   .shm_off = 65536, .shm_len = 4096};
	struct vscsi_cmd_body o;
	uint8_t t[VSCSI_T2I_LEN + VSCSI_SHM_REF_LEN + 20];
	struct vscsi_t2i_view v;
	size_t n;

	(void)state;
	c.cdb[0] = 0x28;
	n = vscsi_cmd_encode(b, &c);
	assert_int_equal(n, VSCSI_CMD_LEN + VSCSI_SHM_REF_LEN);
	assert_int_equal(vscsi_cmd_parse(b, n, &o), 0);
	assert_int_equal(o.shm_off, 65536);
	assert_int_equal(o.shm_len, 4096);
	/* The reference is exactly there, for all of the data. */
	assert_int_equal(vscsi_cmd_parse(b, n - 1, &o), -EINVAL);
	assert_int_equal(vscsi_cmd_parse(b, n + 1, &o), -EINVAL);
	c.shm_len = 4095;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, n, &o), -EINVAL);
	c.shm_len = 4096;
	/* Not with INLINE, not without data. */
	c.flags = VSCSI_CMD_F_SHM | VSCSI_CMD_F_INLINE;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, n, &o), -EINVAL);
	c.flags = VSCSI_CMD_F_SHM;
	c.dir = VSCSI_DIR_NONE;
	c.data_len = c.shm_len = 0;
	vscsi_cmd_encode(b, &c);
	assert_int_equal(vscsi_cmd_parse(b, n, &o), -EINVAL);

	/* T2I: the reference after the fixed part, then the sense; no
	 * socket data with it; unknown flags refused. */
	memset(t, 0, sizeof(t));
	n = vscsi_t2i_encode(t, VSCSI_STAT_SENSE, 0, 12, VSCSI_T2I_F_SHM,
			     8192, 100);
	assert_int_equal(n, VSCSI_T2I_LEN + VSCSI_SHM_REF_LEN);
	assert_int_equal(vscsi_t2i_parse(t, n + 12, &v), 0);
	assert_int_equal(v.shm_off, 8192);
	assert_int_equal(v.shm_len, 100);
	assert_ptr_equal(v.sense, t + n);
	assert_int_equal(v.data_len, 0);
	assert_int_equal(vscsi_t2i_parse(t, n + 13, &v), -EINVAL);
	assert_int_equal(vscsi_t2i_parse(t, n + 11, &v), -EINVAL);
	assert_int_equal(vscsi_t2i_parse(t, VSCSI_T2I_LEN + 4, &v), -EINVAL);
	t[3] = 0x02;
	assert_int_equal(vscsi_t2i_parse(t, n + 12, &v), -EINVAL);
	/* Without SHM the encoder writes the version 2 layout. */
	assert_int_equal(vscsi_t2i_encode(t, 0, 0, 0, 0, 1, 2), VSCSI_T2I_LEN);

	/* Ranges: inside the slot, never wrapping. */
	assert_int_equal(vscsi_shm_check(4096, 4096, 4096, 4096, 65536), 0);
	assert_int_equal(vscsi_shm_check(4096, 0, 4096, 4096, 65536), 0);
	assert_int_equal(vscsi_shm_check(4095, 1, 4096, 4096, 65536), -ERANGE);
	assert_int_equal(vscsi_shm_check(4096, 4097, 4096, 4096, 65536),
			 -ERANGE);
	assert_int_equal(vscsi_shm_check(8192, 1, 4096, 4096, 65536), -ERANGE);
	assert_int_equal(vscsi_shm_check(0xffffffffu, 0xffffffffu, 0,
					 1ull << 32, 1ull << 32), -ERANGE);
	assert_int_equal(vscsi_shm_check(0, 16, 65536 - 8, 16, 65536), -ERANGE);
}

static void test_hello_devev(void **state)
{
	uint8_t b[VSCSI_HELLO_LEN];
	struct vscsi_hello h = {.version = 1, .max_cdb = 32,
				.max_xfer = 1 << 20, .targets = 256,
				.luns = 256, .openings = 16};
	struct vscsi_hello o;
	struct vscsi_devev d;
	uint8_t e[VSCSI_DEVEV_LEN];

	(void)state;
	memcpy(h.name, "vscsi0", 7);
	vscsi_hello_encode(b, &h);
	assert_int_equal(vscsi_hello_parse(b, sizeof(b), &o), 0);
	assert_string_equal(o.name, "vscsi0");
	assert_int_equal(o.openings, 16);
	assert_int_equal(vscsi_hello_parse(b, sizeof(b) - 1, &o), -EINVAL);
	assert_int_equal(o.shm_slot, 0);
	/* An area has a slot size and a number of slots, or neither. */
	h.shm_slot = 65536;
	vscsi_hello_encode(b, &h);
	assert_int_equal(vscsi_hello_parse(b, sizeof(b), &o), -EINVAL);
	h.shm_slots = 1024;
	vscsi_hello_encode(b, &h);
	assert_int_equal(vscsi_hello_parse(b, sizeof(b), &o), 0);
	assert_int_equal(o.shm_slot, 65536);
	assert_int_equal(o.shm_slots, 1024);
	vscsi_devev_encode(e, 9, 3);
	assert_int_equal(vscsi_devev_parse(e, sizeof(e), &d), 0);
	assert_int_equal(d.target, 9);
	assert_int_equal(d.lun, 3);
	assert_int_equal(vscsi_devev_parse(e, sizeof(e) - 1, &d), -EINVAL);
	assert_string_equal(vscsi_msg_name(VSCSI_MSG_T2I), "T2I");
	assert_string_equal(vscsi_msg_name(0x77), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr),
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_t2i),
		cmocka_unit_test(test_shm_refs),
		cmocka_unit_test(test_hello_devev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
