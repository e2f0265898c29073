/*
 * Unit tests for CDB length and CDB decoding.  The CDBs are hand-written
 * byte strings (the way they appear on the wire), each with the fields a
 * reader of SBC/SPC expects from it, so the tests check the decoder against
 * the standard, not against itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/scsi.h>

/* "28 00 ff" -> bytes; returns the count. */
static size_t hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		char *end;
		unsigned long v;

		if (*s == ' ') {
			s++;
			continue;
		}
		v = strtoul(s, &end, 16);
		assert_true(end == s + 2); /* two digits per byte */
		assert_true(n < max);
		out[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

/* ---- scsi_cdb_length ---- */

static const struct {
	const char *cdb;
	size_t avail; /* 0: the whole string */
	unsigned want;
} length_cases[] = {
	{ "00", 0, 6 },	  /* group 0 */
	{ "1f", 0, 6 },
	{ "20", 0, 10 },  /* group 1 */
	{ "3f", 0, 10 },
	{ "40", 0, 10 },  /* group 2 */
	{ "5f", 0, 10 },
	{ "60", 0, 0 },	  /* group 3: reserved */
	{ "7e", 0, 0 },	  /* extended CDB: not supported */
	{ "7f 00 00 00 00 00 00 18", 0, 32 },
	{ "7f 00 00 00 00 00 00 00", 0, 8 },
	{ "7f 00 00 00 00 00 00 ff", 0, 263 },
	{ "7f 00 00 00 00 00 00", 0, 0 }, /* byte 7 missing */
	{ "80", 0, 16 },  /* group 4 */
	{ "9f", 0, 16 },
	{ "a0", 0, 12 },  /* group 5 */
	{ "bf", 0, 12 },
	{ "c0", 0, 0 },	  /* groups 6, 7: vendor */
	{ "ff", 0, 0 },
	{ "28", 1, 10 },  /* the length needs only byte 0 */
};

static void test_cdb_length(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(length_cases) / sizeof(length_cases[0]); i++) {
		uint8_t b[32];
		size_t n = hex(length_cases[i].cdb, b, sizeof(b));
		size_t avail = length_cases[i].avail ? length_cases[i].avail : n;

		if (scsi_cdb_length(b, avail) != length_cases[i].want)
			fail_msg("case %zu (%s): got %u want %u", i,
				 length_cases[i].cdb, scsi_cdb_length(b, avail),
				 length_cases[i].want);
	}
	assert_int_equal(scsi_cdb_length(NULL, 10), 0);
	{
		uint8_t b = 0x28;

		assert_int_equal(scsi_cdb_length(&b, 0), 0);
	}
}

/* ---- scsi_cdb_decode ---- */

struct decode_case {
	const char *what;
	const char *cdb;
	int rc;
	struct scsi_cdb_fields f; /* cdb_len/opcode filled by the rows */
};

#define T true

static const struct decode_case decode_cases[] = {
	/* READ(6)/WRITE(6): 21-bit LBA, length 0 = 256 */
	{ "READ(6) max LBA, len 0 -> 256", "08 ff ff ff 00 00", 0,
	  { .opcode = 0x08, .cdb_len = 6, .lba = 0x1fffff, .has_lba = T,
	    .xfer_len = 256, .has_xfer_len = T } },
	{ "READ(6) len 1, control", "08 00 12 34 01 80", 0,
	  { .opcode = 0x08, .cdb_len = 6, .lba = 0x1234, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .control = 0x80 } },
	{ "WRITE(6) len 255", "0a 01 00 00 ff 04", 0,
	  { .opcode = 0x0a, .cdb_len = 6, .lba = 0x10000, .has_lba = T,
	    .xfer_len = 255, .has_xfer_len = T, .control = 0x04 } },
	/* 10-byte read/write */
	{ "READ(10) all flags, max", "28 fa ff ff ff ff ff ff ff 04", 0,
	  { .opcode = 0x28, .cdb_len = 10, .lba = 0xffffffff, .has_lba = T,
	    .xfer_len = 0xffff, .has_xfer_len = T, .wrprotect = 7,
	    .dpo = T, .fua = T, .group = 0x3f, .control = 0x04 } },
	{ "READ(10) len 0", "28 00 00 00 00 01 00 00 00 00", 0,
	  { .opcode = 0x28, .cdb_len = 10, .lba = 1, .has_lba = T,
	    .xfer_len = 0, .has_xfer_len = T } },
	{ "WRITE(10) FUA", "2a 08 12 34 56 78 05 00 80 00", 0,
	  { .opcode = 0x2a, .cdb_len = 10, .lba = 0x12345678, .has_lba = T,
	    .xfer_len = 0x80, .has_xfer_len = T, .fua = T, .group = 5 } },
	/* 12-byte */
	{ "READ(12) DPO, group", "a8 10 12 34 56 78 ff ff ff ff c5 00", 0,
	  { .opcode = 0xa8, .cdb_len = 12, .lba = 0x12345678, .has_lba = T,
	    .xfer_len = 0xffffffff, .has_xfer_len = T, .dpo = T,
	    .group = 0x05 } },
	{ "WRITE(12) WRPROTECT 3", "aa 60 00 00 00 00 00 00 00 10 00 01", 0,
	  { .opcode = 0xaa, .cdb_len = 12, .lba = 0, .has_lba = T,
	    .xfer_len = 16, .has_xfer_len = T, .wrprotect = 3,
	    .control = 1 } },
	/* 16-byte */
	{ "READ(16) max", "88 00 ff ff ff ff ff ff ff ff ff ff ff ff 3f 00", 0,
	  { .opcode = 0x88, .cdb_len = 16, .lba = UINT64_MAX, .has_lba = T,
	    .xfer_len = 0xffffffff, .has_xfer_len = T, .group = 0x3f } },
	{ "WRITE(16) FUA RDPROTECT 1",
	  "8a 28 01 02 03 04 05 06 07 08 00 00 00 00 00 00", 0,
	  { .opcode = 0x8a, .cdb_len = 16, .lba = 0x0102030405060708ULL,
	    .has_lba = T, .xfer_len = 0, .has_xfer_len = T, .wrprotect = 1,
	    .fua = T } },
	{ "ORWRITE(16)", "8b 18 00 00 00 00 00 00 00 10 00 00 00 08 00 00", 0,
	  { .opcode = 0x8b, .cdb_len = 16, .lba = 0x10, .has_lba = T,
	    .xfer_len = 8, .has_xfer_len = T, .dpo = T, .fua = T } },
	{ "WRITE ATOMIC(16)",
	  "9c 08 00 00 00 00 00 00 00 20 ff ff 00 04 02 00", 0,
	  { .opcode = 0x9c, .cdb_len = 16, .lba = 0x20, .has_lba = T,
	    .xfer_len = 4, .has_xfer_len = T, .fua = T, .group = 2 } },
	/* 32-byte variable length */
	{ "READ(32)",
	  "7f c0 00 00 00 00 1f 18 00 09 e8 00 01 02 03 04 05 06 07 08 "
	  "aa aa aa aa bb bb cc cc 00 01 00 00", 0,
	  { .opcode = 0x7f, .service_action = 0x0009, .cdb_len = 32,
	    .lba = 0x0102030405060708ULL, .has_lba = T, .xfer_len = 0x10000,
	    .has_xfer_len = T, .wrprotect = 7, .fua = T, .group = 0x1f,
	    .control = 0xc0 } },
	{ "WRITE(32) max",
	  "7f 00 00 00 00 00 00 18 00 0b 18 00 ff ff ff ff ff ff ff ff "
	  "00 00 00 00 00 00 00 00 ff ff ff ff", 0,
	  { .opcode = 0x7f, .service_action = 0x000b, .cdb_len = 32,
	    .lba = UINT64_MAX, .has_lba = T, .xfer_len = 0xffffffff,
	    .has_xfer_len = T, .dpo = T, .fua = T } },
	{ "VERIFY(32) BYTCHK 1",
	  "7f 00 00 00 00 00 00 18 00 0a 12 00 00 00 00 00 00 00 00 05 "
	  "00 00 00 00 00 00 00 00 00 00 00 02", 0,
	  { .opcode = 0x7f, .service_action = 0x000a, .cdb_len = 32,
	    .lba = 5, .has_lba = T, .xfer_len = 2, .has_xfer_len = T,
	    .dpo = T, .bytchk = 1 } },
	{ "WRITE AND VERIFY(32)",
	  "7f 00 00 00 00 00 02 18 00 0c 22 00 00 00 00 00 00 00 00 05 "
	  "00 00 00 00 00 00 00 00 00 00 00 02", 0,
	  { .opcode = 0x7f, .service_action = 0x000c, .cdb_len = 32,
	    .lba = 5, .has_lba = T, .xfer_len = 2, .has_xfer_len = T,
	    .wrprotect = 1, .bytchk = 1, .group = 2 } },
	{ "WRITE SAME(32) ANCHOR UNMAP NDOB",
	  "7f 00 00 00 00 00 00 18 00 0d 19 00 00 00 00 00 00 00 10 00 "
	  "00 00 00 00 00 00 00 00 00 00 01 00", 0,
	  { .opcode = 0x7f, .service_action = 0x000d, .cdb_len = 32,
	    .lba = 0x1000, .has_lba = T, .xfer_len = 0x100,
	    .has_xfer_len = T, .anchor = T, .unmap = T, .ndob = T } },
	{ "32-byte with wrong ADDITIONAL CDB LENGTH",
	  "7f 00 00 00 00 00 00 10 00 09 00 00 00 00 00 00 00 00 00 00 "
	  "00 00 00 00", -EINVAL,
	  { .opcode = 0x7f, .service_action = 0x0009, .cdb_len = 24 } },
	{ "32-byte ADDITIONAL CDB LENGTH too small for SA",
	  "7f 05 00 00 00 00 00 01 00", -EINVAL,
	  { .opcode = 0x7f, .cdb_len = 9, .control = 5 } },
	{ "32-byte unknown service action",
	  "7f 00 00 00 00 00 00 18 ff f0 00 00 00 00 00 00 00 00 00 00 "
	  "00 00 00 00 00 00 00 00 00 00 00 00", -ENOTSUP,
	  { .opcode = 0x7f, .service_action = 0xfff0, .cdb_len = 32 } },
	/* VERIFY / WRITE AND VERIFY 10/12/16 */
	{ "VERIFY(10) DPO BYTCHK 2", "2f 14 00 00 00 10 00 00 08 00", 0,
	  { .opcode = 0x2f, .cdb_len = 10, .lba = 0x10, .has_lba = T,
	    .xfer_len = 8, .has_xfer_len = T, .dpo = T, .bytchk = 2 } },
	{ "VERIFY(10) FUA bit is not FUA", "2f 0a 00 00 00 00 00 00 00 00", 0,
	  { .opcode = 0x2f, .cdb_len = 10, .has_lba = T, .has_xfer_len = T,
	    .bytchk = 1 } },
	{ "VERIFY(12) VRPROTECT", "af a2 00 00 00 01 00 00 00 01 00 00", 0,
	  { .opcode = 0xaf, .cdb_len = 12, .lba = 1, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .wrprotect = 5, .bytchk = 1 } },
	{ "VERIFY(16)", "8f 06 00 00 00 01 00 00 00 00 00 00 00 07 00 00", 0,
	  { .opcode = 0x8f, .cdb_len = 16, .lba = 0x100000000ULL,
	    .has_lba = T, .xfer_len = 7, .has_xfer_len = T, .bytchk = 3 } },
	{ "WRITE AND VERIFY(10)", "2e 12 00 00 00 02 00 00 01 00", 0,
	  { .opcode = 0x2e, .cdb_len = 10, .lba = 2, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .dpo = T, .bytchk = 1 } },
	{ "WRITE AND VERIFY(12)", "ae 00 00 00 00 02 00 00 00 01 01 00", 0,
	  { .opcode = 0xae, .cdb_len = 12, .lba = 2, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .group = 1 } },
	{ "WRITE AND VERIFY(16)",
	  "8e 02 00 00 00 00 00 00 00 02 00 00 00 01 00 00", 0,
	  { .opcode = 0x8e, .cdb_len = 16, .lba = 2, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .bytchk = 1 } },
	/* WRITE SAME */
	{ "WRITE SAME(10) ANCHOR UNMAP, bit 0 is not NDOB",
	  "41 19 00 00 10 00 00 00 40 00", 0,
	  { .opcode = 0x41, .cdb_len = 10, .lba = 0x1000, .has_lba = T,
	    .xfer_len = 0x40, .has_xfer_len = T, .anchor = T, .unmap = T } },
	{ "WRITE SAME(16) UNMAP NDOB",
	  "93 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00", 0,
	  { .opcode = 0x93, .cdb_len = 16, .has_lba = T, .xfer_len = 0,
	    .has_xfer_len = T, .unmap = T, .ndob = T } },
	{ "WRITE SAME(16) WRPROTECT, no UNMAP",
	  "93 20 00 00 00 00 00 00 00 01 00 00 00 01 00 00", 0,
	  { .opcode = 0x93, .cdb_len = 16, .lba = 1, .has_lba = T,
	    .xfer_len = 1, .has_xfer_len = T, .wrprotect = 1 } },
	/* UNMAP, SYNCHRONIZE CACHE, PRE-FETCH */
	{ "UNMAP ANCHOR", "42 01 00 00 00 00 03 00 18 00", 0,
	  { .opcode = 0x42, .cdb_len = 10, .alloc_len = 0x18,
	    .has_alloc_len = T, .anchor = T, .group = 3 } },
	{ "SYNCHRONIZE CACHE(10) IMMED",
	  "35 02 00 00 00 00 00 00 00 00", 0,
	  { .opcode = 0x35, .cdb_len = 10, .has_lba = T, .has_xfer_len = T,
	    .immed = T } },
	{ "SYNCHRONIZE CACHE(10) range", "35 00 00 00 01 00 00 ff ff 00", 0,
	  { .opcode = 0x35, .cdb_len = 10, .lba = 0x100, .has_lba = T,
	    .xfer_len = 0xffff, .has_xfer_len = T } },
	{ "SYNCHRONIZE CACHE(16)",
	  "91 02 00 00 00 00 00 00 00 08 00 00 01 00 00 00", 0,
	  { .opcode = 0x91, .cdb_len = 16, .lba = 8, .has_lba = T,
	    .xfer_len = 0x100, .has_xfer_len = T, .immed = T } },
	{ "PRE-FETCH(10)", "34 02 00 00 00 04 00 00 02 00", 0,
	  { .opcode = 0x34, .cdb_len = 10, .lba = 4, .has_lba = T,
	    .xfer_len = 2, .has_xfer_len = T, .immed = T } },
	{ "PRE-FETCH(16)", "90 00 00 00 00 00 00 00 00 04 00 00 00 02 00 00",
	  0,
	  { .opcode = 0x90, .cdb_len = 16, .lba = 4, .has_lba = T,
	    .xfer_len = 2, .has_xfer_len = T } },
	/* COMPARE AND WRITE: NUMBER OF LOGICAL BLOCKS is byte 13 only */
	{ "COMPARE AND WRITE", "89 08 00 00 00 00 00 00 00 40 ff ff ff 02 00 00",
	  0,
	  { .opcode = 0x89, .cdb_len = 16, .lba = 0x40, .has_lba = T,
	    .xfer_len = 2, .has_xfer_len = T, .fua = T } },
	/* Capacity */
	{ "READ CAPACITY(10)", "25 00 00 00 00 00 00 00 00 00", 0,
	  { .opcode = 0x25, .cdb_len = 10, .has_lba = T, .alloc_len = 8,
	    .has_alloc_len = T } },
	{ "READ CAPACITY(16)", "9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00",
	  0,
	  { .opcode = 0x9e, .service_action = 0x10, .cdb_len = 16,
	    .has_lba = T, .alloc_len = 32, .has_alloc_len = T } },
	{ "GET LBA STATUS", "9e 12 00 00 00 00 00 00 10 00 00 00 10 00 00 07",
	  0,
	  { .opcode = 0x9e, .service_action = 0x12, .cdb_len = 16,
	    .lba = 0x1000, .has_lba = T, .alloc_len = 0x1000,
	    .has_alloc_len = T, .control = 7 } },
	{ "SERVICE ACTION IN(16) unknown SA",
	  "9e 1f 00 00 00 00 00 00 00 00 00 00 00 00 00 09", -ENOTSUP,
	  { .opcode = 0x9e, .service_action = 0x1f, .cdb_len = 16,
	    .control = 9 } },
	/* Allocation / parameter list lengths */
	{ "INQUIRY", "12 01 83 01 00 00", 0,
	  { .opcode = 0x12, .cdb_len = 6, .alloc_len = 0x100,
	    .has_alloc_len = T } },
	{ "INQUIRY alloc 0", "12 00 00 00 00 00", 0,
	  { .opcode = 0x12, .cdb_len = 6, .has_alloc_len = T } },
	{ "REQUEST SENSE", "03 01 00 00 fc 00", 0,
	  { .opcode = 0x03, .cdb_len = 6, .alloc_len = 252,
	    .has_alloc_len = T } },
	{ "MODE SENSE(6)", "1a 08 3f 00 ff 00", 0,
	  { .opcode = 0x1a, .cdb_len = 6, .alloc_len = 255,
	    .has_alloc_len = T } },
	{ "MODE SELECT(6)", "15 10 00 00 18 00", 0,
	  { .opcode = 0x15, .cdb_len = 6, .alloc_len = 24,
	    .has_alloc_len = T } },
	{ "MODE SENSE(10)", "5a 00 3f 00 00 00 00 ff ff 00", 0,
	  { .opcode = 0x5a, .cdb_len = 10, .alloc_len = 0xffff,
	    .has_alloc_len = T } },
	{ "MODE SELECT(10)", "55 11 00 00 00 00 00 01 00 00", 0,
	  { .opcode = 0x55, .cdb_len = 10, .alloc_len = 0x100,
	    .has_alloc_len = T } },
	{ "LOG SENSE", "4d 00 4d 00 00 ff ff 12 34 00", 0,
	  { .opcode = 0x4d, .cdb_len = 10, .alloc_len = 0x1234,
	    .has_alloc_len = T } },
	{ "LOG SELECT", "4c 02 00 00 00 00 00 00 10 00", 0,
	  { .opcode = 0x4c, .cdb_len = 10, .alloc_len = 0x10,
	    .has_alloc_len = T } },
	{ "REPORT LUNS", "a0 00 02 00 00 00 ff ff ff ff 00 00", 0,
	  { .opcode = 0xa0, .cdb_len = 12, .alloc_len = 0xffffffff,
	    .has_alloc_len = T } },
	{ "REPORT SUPPORTED OPERATION CODES",
	  "a3 0c 01 28 00 00 00 00 02 00 00 00", 0,
	  { .opcode = 0xa3, .service_action = 0x0c, .cdb_len = 12,
	    .alloc_len = 0x200, .has_alloc_len = T } },
	{ "REPORT SUPPORTED TMFS", "a3 0d 00 00 00 00 00 00 00 10 00 00", 0,
	  { .opcode = 0xa3, .service_action = 0x0d, .cdb_len = 12,
	    .alloc_len = 0x10, .has_alloc_len = T } },
	{ "REPORT TARGET PORT GROUPS", "a3 0a 00 00 00 00 00 00 04 00 00 00", 0,
	  { .opcode = 0xa3, .service_action = 0x0a, .cdb_len = 12,
	    .alloc_len = 0x400, .has_alloc_len = T } },
	{ "MAINTENANCE IN unknown SA", "a3 1f 00 00 00 00 00 00 04 00 00 00",
	  -ENOTSUP,
	  { .opcode = 0xa3, .service_action = 0x1f, .cdb_len = 12 } },
	{ "PERSISTENT RESERVE IN", "5e 01 00 00 00 00 00 10 00 00", 0,
	  { .opcode = 0x5e, .service_action = 1, .cdb_len = 10,
	    .alloc_len = 0x1000, .has_alloc_len = T } },
	{ "PERSISTENT RESERVE OUT", "5f 06 00 00 00 00 00 00 18 00", 0,
	  { .opcode = 0x5f, .service_action = 6, .cdb_len = 10,
	    .alloc_len = 24, .has_alloc_len = T } },
	{ "PERSISTENT RESERVE OUT 32-bit length",
	  "5f 00 00 00 00 01 02 03 04 00", 0,
	  { .opcode = 0x5f, .cdb_len = 10, .alloc_len = 0x01020304,
	    .has_alloc_len = T } },
	{ "RECEIVE DIAGNOSTIC RESULTS", "1c 01 00 ff ff 00", 0,
	  { .opcode = 0x1c, .cdb_len = 6, .alloc_len = 0xffff,
	    .has_alloc_len = T } },
	{ "SEND DIAGNOSTIC", "1d 04 00 00 00 00", 0,
	  { .opcode = 0x1d, .cdb_len = 6, .has_alloc_len = T } },
	{ "READ BUFFER", "3c 02 00 00 00 00 ff ff ff 00", 0,
	  { .opcode = 0x3c, .cdb_len = 10, .alloc_len = 0xffffff,
	    .has_alloc_len = T } },
	{ "WRITE BUFFER", "3b 05 00 00 02 00 00 10 00 00", 0,
	  { .opcode = 0x3b, .cdb_len = 10, .alloc_len = 0x1000,
	    .has_alloc_len = T } },
	{ "SANITIZE IMMED", "48 81 00 00 00 00 00 00 0c 00", 0,
	  { .opcode = 0x48, .service_action = 1, .cdb_len = 10,
	    .alloc_len = 12, .has_alloc_len = T, .immed = T } },
	/* No fields */
	{ "TEST UNIT READY", "00 00 00 00 00 00", 0,
	  { .opcode = 0x00, .cdb_len = 6 } },
	{ "START STOP UNIT IMMED", "1b 01 00 00 01 00", 0,
	  { .opcode = 0x1b, .cdb_len = 6, .immed = T } },
	{ "START STOP UNIT bit 1 is not IMMED", "1b 02 00 00 01 00", 0,
	  { .opcode = 0x1b, .cdb_len = 6 } },
	/* Unknown layouts */
	{ "ATA PASS-THROUGH(16)",
	  "85 08 0e 00 00 00 01 00 00 00 00 00 00 00 ec 07", -ENOTSUP,
	  { .opcode = 0x85, .cdb_len = 16, .control = 7 } },
	{ "reserved group 3", "60 00 00 00 00 00 00 00 00 00", -ENOTSUP,
	  { .opcode = 0x60 } },
	{ "vendor specific", "c0 00 00 00 00 00", -ENOTSUP,
	  { .opcode = 0xc0 } },
	{ "unassigned 10-byte opcode", "29 00 00 00 00 00 00 00 00 03",
	  -ENOTSUP, { .opcode = 0x29, .cdb_len = 10, .control = 3 } },
};

static void check_fields(const char *what, const struct scsi_cdb_fields *g,
			 const struct scsi_cdb_fields *w)
{
#define CHK(fld)                                                            \
	do {                                                                \
		if (g->fld != w->fld)                                       \
			fail_msg("%s: " #fld " = 0x%llx, want 0x%llx", what, \
				 (unsigned long long)g->fld,                \
				 (unsigned long long)w->fld);               \
	} while (0)
	CHK(opcode);
	CHK(service_action);
	CHK(cdb_len);
	CHK(lba);
	CHK(xfer_len);
	CHK(alloc_len);
	CHK(has_lba);
	CHK(has_xfer_len);
	CHK(has_alloc_len);
	CHK(fua);
	CHK(dpo);
	CHK(bytchk);
	CHK(wrprotect);
	CHK(unmap);
	CHK(anchor);
	CHK(ndob);
	CHK(immed);
	CHK(group);
	CHK(control);
#undef CHK
}

static void test_cdb_decode(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		struct scsi_cdb_fields want = c->f, got;
		uint8_t b[64];
		size_t n = hex(c->cdb, b, sizeof(b));
		int rc;

		memset(&got, 0xa5, sizeof(got)); /* decode must clear it */
		rc = scsi_cdb_decode(b, n, &got);
		if (rc != c->rc)
			fail_msg("%s: rc %d want %d", c->what, rc, c->rc);
		check_fields(c->what, &got, &want);
	}
}

/* Every known layout truncated by one byte, and by all but one byte,
 * must be refused without reading past the end. */
static const char *const truncation_cases[] = {
	"08 00 00 00 01 00",
	"28 00 00 00 00 00 00 00 01 00",
	"a8 00 00 00 00 00 00 00 00 01 00 00",
	"88 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
	"89 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00",
	"9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00",
	"a3 0c 00 00 00 00 00 00 02 00 00 00",
	"12 00 00 00 24 00",
	("7f 00 00 00 00 00 00 18 00 09 00 00 00 00 00 00 00 00 00 00 "
	 "00 00 00 00 00 00 00 00 00 00 00 01"),
};

static void test_cdb_truncated(void **state)
{
	size_t i, cut;

	(void)state;
	for (i = 0; i < sizeof(truncation_cases) / sizeof(truncation_cases[0]);
	     i++) {
		uint8_t b[64];
		size_t n = hex(truncation_cases[i], b, sizeof(b));
		struct scsi_cdb_fields f;

		/* Sanity: the whole CDB decodes. */
		assert_int_equal(scsi_cdb_decode(b, n, &f), 0);
		for (cut = 1; cut < n; cut++) {
			/* A heap copy of exactly n - cut bytes, so that ASan
			 * catches any read past the end. */
			uint8_t *h = malloc(n - cut);

			assert_non_null(h);
			memcpy(h, b, n - cut);
			if (scsi_cdb_decode(h, n - cut, &f) != -EINVAL)
				fail_msg("%s: len %zu not refused",
					 truncation_cases[i], n - cut);
			free(h);
		}
	}
	assert_int_equal(scsi_cdb_decode(NULL, 10, &(struct scsi_cdb_fields){0}),
			 -EINVAL);
	{
		uint8_t b[1] = { 0x28 };
		struct scsi_cdb_fields f;

		assert_int_equal(scsi_cdb_decode(b, 0, &f), -EINVAL);
	}
}

/* scsi_cdb_rw: (10) while it fits, (16) beyond; FUA; round trip through
 * the decoder. */
static void test_cdb_rw(void **state)
{
	static const struct {
		bool rd, fua;
		uint64_t lba;
		uint32_t blocks;
		uint8_t len, op;
	} cases[] = {
		{true, false, 0, 8, 10, SCSI_READ_10},
		{false, true, 0xfffffff0ull, 0x0f, 10, SCSI_WRITE_10},
		{false, false, 0xfffffff0ull, 0x10, 16, SCSI_WRITE_16},
		{true, false, 1, 0xffff, 10, SCSI_READ_10},
		{true, true, 1, 0x10000, 16, SCSI_READ_16},
		{false, false, 1ull << 40, 1, 16, SCSI_WRITE_16},
	};
	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t cdb[16];
		struct scsi_cdb_fields f;

		memset(cdb, 0xee, sizeof(cdb));
		assert_int_equal(scsi_cdb_rw(cdb, cases[i].rd, cases[i].lba,
					     cases[i].blocks, cases[i].fua),
				 cases[i].len);
		assert_int_equal(cdb[0], cases[i].op);
		assert_int_equal(!!(cdb[1] & 0x08), cases[i].fua);
		assert_int_equal(scsi_cdb_decode(cdb, cases[i].len, &f), 0);
		assert_int_equal(f.lba, cases[i].lba);
		assert_int_equal(f.xfer_len, cases[i].blocks);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cdb_length),
		cmocka_unit_test(test_cdb_rw),
		cmocka_unit_test(test_cdb_decode),
		cmocka_unit_test(test_cdb_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
