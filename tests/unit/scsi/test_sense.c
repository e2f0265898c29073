/*
 * Unit tests for sense data: golden byte strings for the builder (written
 * by hand from SPC-4 4.5), parse of those same strings, build/parse round
 * trips in both formats, malformed input refused, the sense-key-specific
 * helpers and the human-readable rendering.
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

static size_t hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		char *end;
		unsigned long v;

		if (*s == ' ' || *s == '|') {
			s++;
			continue;
		}
		v = strtoul(s, &end, 16);
		assert_true(end == s + 2);
		assert_true(n < max);
		out[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

static void check_sense(const char *what, const struct scsi_sense *g,
			const struct scsi_sense *w)
{
#define CHK(fld)                                                             \
	do {                                                                 \
		if (g->fld != w->fld)                                        \
			fail_msg("%s: " #fld " = 0x%llx, want 0x%llx", what,  \
				 (unsigned long long)g->fld,                 \
				 (unsigned long long)w->fld);                \
	} while (0)
	CHK(key);
	CHK(asc_ascq);
	CHK(current);
	CHK(info_valid);
	CHK(info);
	CHK(csi_valid);
	CHK(csi);
	CHK(sks_valid);
	CHK(sks[0]);
	CHK(sks[1]);
	CHK(sks[2]);
	CHK(filemark);
	CHK(eom);
	CHK(ili);
#undef CHK
}

/* ---- golden vectors: build gives these bytes, parse gives this struct ---- */

#define T true

static const struct {
	const char *what;
	bool descriptor;
	struct scsi_sense s;
	const char *bytes;
} golden[] = {
	{ "fixed simple", false,
	  { .key = 5, .asc_ascq = 0x2400, .current = T },
	  "70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00" },
	{ "fixed deferred", false,
	  { .key = 6, .asc_ascq = 0x2900, .current = false },
	  "71 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00" },
	{ "fixed field pointer", false,
	  { .key = 5, .asc_ascq = 0x2400, .current = T, .sks_valid = T,
	    .sks = { 0xc9, 0x00, 0x02 } },
	  "70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 c9 00 02" },
	{ "fixed INFORMATION, CSI", false,
	  { .key = 3, .asc_ascq = 0x1100, .current = T, .info_valid = T,
	    .info = 0x12345678, .csi_valid = T, .csi = 0xdeadbeef },
	  "f0 00 03 12 34 56 78 0a de ad be ef 11 00 00 00 00 00" },
	{ "fixed FILEMARK EOM ILI", false,
	  { .key = 0, .asc_ascq = 0x0000, .current = T, .filemark = T,
	    .eom = T, .ili = T },
	  "70 00 e0 00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00" },
	{ "fixed miscompare offset", false,
	  { .key = 0xe, .asc_ascq = 0x1d00, .current = T, .info_valid = T,
	    .info = 0x200 },
	  "f0 00 0e 00 00 02 00 0a 00 00 00 00 1d 00 00 00 00 00" },
	{ "descriptor simple", true,
	  { .key = 5, .asc_ascq = 0x2400, .current = T },
	  "72 05 24 00 00 00 00 00" },
	{ "descriptor deferred", true,
	  { .key = 4, .asc_ascq = 0x4400, .current = false },
	  "73 04 44 00 00 00 00 00" },
	{ "descriptor INFORMATION CSI SKS", true,
	  { .key = 3, .asc_ascq = 0x1100, .current = T, .info_valid = T,
	    .info = 0x0123456789abcdefULL, .csi_valid = T, .csi = 5,
	    .sks_valid = T, .sks = { 0xc9, 0x00, 0x02 } },
	  "72 03 11 00 00 00 00 20 | 00 0a 80 00 01 23 45 67 89 ab cd ef | "
	  "01 0a 00 00 00 00 00 00 00 00 00 05 | 02 06 00 00 c9 00 02 00" },
	{ "descriptor progress", true,
	  { .key = 2, .asc_ascq = 0x0404, .current = T, .sks_valid = T,
	    .sks = { 0x80, 0x40, 0x00 } },
	  "72 02 04 04 00 00 00 08 | 02 06 00 00 80 40 00 00" },
	{ "descriptor ILI (block commands)", true,
	  { .key = 5, .asc_ascq = 0x2400, .current = T, .ili = T },
	  "72 05 24 00 00 00 00 04 | 05 02 00 20" },
	{ "descriptor FILEMARK EOM (stream commands)", true,
	  { .key = 0, .asc_ascq = 0x0001, .current = T, .filemark = T,
	    .eom = T },
	  "72 00 00 01 00 00 00 04 | 04 02 00 c0" },
};

static void test_sense_golden(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		uint8_t want[SCSI_SENSE_MAX], got[SCSI_SENSE_MAX + 8];
		size_t wn = hex(golden[i].bytes, want, sizeof(want));
		size_t n;
		struct scsi_sense p;

		memset(got, 0x5a, sizeof(got));
		n = scsi_sense_build(&golden[i].s, golden[i].descriptor, got,
				     sizeof(got));
		if (n != wn)
			fail_msg("%s: built %zu bytes, want %zu",
				 golden[i].what, n, wn);
		if (memcmp(got, want, wn) != 0)
			fail_msg("%s: bytes differ", golden[i].what);
		assert_int_equal(got[wn], 0x5a); /* nothing past the end */

		assert_int_equal(scsi_sense_parse(want, wn, &p), 0);
		check_sense(golden[i].what, &p, &golden[i].s);
	}
}

static void test_sense_build_simple(void **state)
{
	uint8_t b[SCSI_SENSE_MAX];
	uint8_t want[32];
	size_t wn;

	(void)state;
	wn = hex("70 00 02 00 00 00 00 0a 00 00 00 00 04 03 00 00 00 00", want,
		 sizeof(want));
	assert_int_equal(scsi_sense_build_simple(SCSI_SK_NOT_READY,
			 SCSI_ASC_LUN_NOT_READY_MANUAL_INTERVENTION, false, b,
			 sizeof(b)), wn);
	assert_memory_equal(b, want, wn);
	wn = hex("72 06 3f 0e 00 00 00 00", want, sizeof(want));
	assert_int_equal(scsi_sense_build_simple(SCSI_SK_UNIT_ATTENTION,
			 SCSI_ASC_REPORTED_LUNS_DATA_CHANGED, true, b,
			 sizeof(b)), wn);
	assert_memory_equal(b, want, wn);
}

/* Truncation to the caller's buffer (a short allocation length). */
static void test_sense_build_truncated(void **state)
{
	struct scsi_sense s = { .key = 5, .asc_ascq = 0x2400, .current = T };
	uint8_t full[SCSI_SENSE_MAX], b[32];
	size_t fn, len;

	(void)state;
	scsi_sense_field_pointer(&s, true, 1, -1);
	s.info_valid = true;
	s.info = 7;
	for (int d = 0; d < 2; d++) {
		fn = scsi_sense_build(&s, d, full, sizeof(full));
		assert_int_equal(fn, d ? 8 + 12 + 8 : 18);
		for (len = 0; len <= fn; len++) {
			memset(b, 0x5a, sizeof(b));
			assert_int_equal(scsi_sense_build(&s, d, b, len), len);
			assert_memory_equal(b, full, len);
			assert_int_equal(b[len], 0x5a);
		}
		/* A bigger buffer gets only what there is. */
		assert_int_equal(scsi_sense_build(&s, d, b, sizeof(b)), fn);
	}
}

/* ---- round trips ---- */

static const struct scsi_sense round_trips[] = {
	{ .key = 0x0, .asc_ascq = 0x0000, .current = T },
	{ .key = 0xf, .asc_ascq = 0xffff, .current = false },
	{ .key = 5, .asc_ascq = 0x2100, .current = T, .info_valid = T,
	  .info = 0xffffffff },
	{ .key = 5, .asc_ascq = 0x2100, .current = T, .info_valid = T,
	  .info = 0 },
	{ .key = 0xb, .asc_ascq = 0x4b06, .current = T, .csi_valid = T,
	  .csi = 0x80000000 },
	{ .key = 5, .asc_ascq = 0x2600, .current = false, .sks_valid = T,
	  .sks = { 0x8f, 0xff, 0xff } },
	{ .key = 3, .asc_ascq = 0x1101, .current = T, .info_valid = T,
	  .info = 0x89abcdef, .csi_valid = T, .csi = 1, .sks_valid = T,
	  .sks = { 0x80, 0x00, 0x10 }, .ili = T },
	{ .key = 0, .asc_ascq = 0x0005, .current = T, .eom = T },
	{ .key = 0, .asc_ascq = 0x0001, .current = T, .filemark = T,
	  .ili = T },
};

static void test_sense_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
		for (int d = 0; d < 2; d++) {
			uint8_t b[SCSI_SENSE_MAX];
			struct scsi_sense p;
			size_t n = scsi_sense_build(&round_trips[i], d, b,
						    sizeof(b));
			char what[32];

			snprintf(what, sizeof(what), "row %zu %s", i,
				 d ? "descriptor" : "fixed");
			assert_true(n >= 8);
			assert_int_equal(b[0] & 0x7f,
					 (d ? 0x72 : 0x70) +
						 (round_trips[i].current ? 0 : 1));
			assert_int_equal(scsi_sense_parse(b, n, &p), 0);
			check_sense(what, &p, &round_trips[i]);
		}
	}
}

/* 64-bit INFORMATION: kept in descriptor format; in fixed format VALID
 * goes to 0 and the field stays zero (our stated rule). */
static void test_sense_info64(void **state)
{
	struct scsi_sense s = { .key = 3, .asc_ascq = 0x1100, .current = T,
				.info_valid = T, .info = 0x100000000ULL };
	struct scsi_sense p;
	uint8_t b[SCSI_SENSE_MAX];
	size_t n;

	(void)state;
	n = scsi_sense_build(&s, true, b, sizeof(b));
	assert_int_equal(scsi_sense_parse(b, n, &p), 0);
	assert_true(p.info_valid);
	assert_true(p.info == 0x100000000ULL);

	n = scsi_sense_build(&s, false, b, sizeof(b));
	assert_int_equal(n, 18);
	assert_int_equal(b[0], 0x70); /* VALID clear */
	assert_int_equal(b[3] | b[4] | b[5] | b[6], 0);
	assert_int_equal(scsi_sense_parse(b, n, &p), 0);
	assert_false(p.info_valid);
	assert_int_equal(p.key, 3);
	assert_int_equal(p.asc_ascq, 0x1100);

	/* A 64-bit CSI likewise cannot be carried in fixed format. */
	s.info_valid = false;
	s.csi_valid = true;
	s.csi = UINT64_MAX;
	n = scsi_sense_build(&s, false, b, sizeof(b));
	assert_int_equal(b[8] | b[9] | b[10] | b[11], 0);
	n = scsi_sense_build(&s, true, b, sizeof(b));
	assert_int_equal(scsi_sense_parse(b, n, &p), 0);
	assert_true(p.csi_valid);
	assert_true(p.csi == UINT64_MAX);
}

/* ---- parse: accepted oddities and rejected garbage ---- */

static const struct {
	const char *what;
	const char *bytes;
	int rc;
	struct scsi_sense s; /* when rc == 0 */
} parse_cases[] = {
	{ "too short for ADDITIONAL SENSE LENGTH", "70 00 05 00 00 00 00",
	  -EINVAL, { 0 } },
	{ "empty", "", -EINVAL, { 0 } },
	{ "response code 0x00", "00 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00",
	  -EINVAL, { 0 } },
	{ "response code 0x74", "74 05 24 00 00 00 00 00", -EINVAL, { 0 } },
	{ "response code 0x7f (vendor)", "7f 05 24 00 00 00 00 00", -EINVAL,
	  { 0 } },
	{ "response code 0x6f", "6f 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00",
	  -EINVAL, { 0 } },
	{ "fixed: additional length beyond buffer",
	  "70 00 05 00 00 00 00 0b 00 00 00 00 24 00 00 00 00 00", -EINVAL,
	  { 0 } },
	{ "fixed: additional length 0xff on 18 bytes",
	  "70 00 05 00 00 00 00 ff 00 00 00 00 24 00 00 00 00 00", -EINVAL,
	  { 0 } },
	{ "descriptor: additional length beyond buffer",
	  "72 05 24 00 00 00 00 0c | 02 06 00 00 c9 00 02 00", -EINVAL,
	  { 0 } },
	{ "descriptor: descriptor length beyond end",
	  "72 05 24 00 00 00 00 0c | 00 0b 80 00 00 00 00 00 00 00 00 01",
	  -EINVAL, { 0 } },
	{ "descriptor: lone trailing byte", "72 05 24 00 00 00 00 01 | 00",
	  -EINVAL, { 0 } },
	{ "descriptor: trailing byte after a descriptor",
	  "72 05 24 00 00 00 00 05 | 05 02 00 20 | 02", -EINVAL, { 0 } },
	{ "descriptor: INFORMATION descriptor too short",
	  "72 05 24 00 00 00 00 04 | 00 02 80 00", -EINVAL, { 0 } },
	{ "descriptor: SKS descriptor too short",
	  "72 05 24 00 00 00 00 04 | 02 02 00 00", -EINVAL, { 0 } },
	{ "descriptor: CSI descriptor too short",
	  "72 05 24 00 00 00 00 06 | 01 04 00 00 00 00", -EINVAL, { 0 } },
	{ "descriptor: stream descriptor too short",
	  "72 05 24 00 00 00 00 02 | 04 00", -EINVAL, { 0 } },
	/* Accepted */
	{ "descriptor: unknown descriptor skipped",
	  "72 05 24 00 00 00 00 0e | 80 04 aa bb cc dd | 02 06 00 00 c9 00 02 00",
	  0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T, .sks_valid = T,
	    .sks = { 0xc9, 0x00, 0x02 } } },
	{ "descriptor: zero-length unknown descriptor",
	  "72 05 24 00 00 00 00 02 | 0a 00", 0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T } },
	{ "descriptor: longer INFORMATION descriptor",
	  "72 03 11 00 00 00 00 0e | 00 0c 80 00 00 00 00 00 00 00 00 09 ff ff",
	  0,
	  { .key = 3, .asc_ascq = 0x1100, .current = T, .info_valid = T,
	    .info = 9 } },
	{ "descriptor: INFORMATION with VALID 0",
	  "72 03 11 00 00 00 00 0c | 00 0a 00 00 00 00 00 00 00 00 00 09", 0,
	  { .key = 3, .asc_ascq = 0x1100, .current = T, .info = 9 } },
	{ "descriptor: SKS with SKSV 0",
	  "72 05 24 00 00 00 00 08 | 02 06 00 00 49 00 02 00", 0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T,
	    .sks = { 0x49, 0x00, 0x02 } } },
	{ "descriptor: data past ADDITIONAL SENSE LENGTH ignored",
	  "72 05 24 00 00 00 00 00 | 00 0a 80 00 00 00 00 00 00 00 00 09", 0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T } },
	{ "fixed: SKSV 0 means no SKS",
	  "70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 49 00 02", 0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T } },
	{ "fixed: short additional length, no ASC", "70 00 06 00 00 00 00 00",
	  0, { .key = 6, .current = T } },
	{ "fixed: additional length 6 ends after ASCQ",
	  "70 00 06 00 00 00 00 06 00 00 00 00 29 07", 0,
	  { .key = 6, .asc_ascq = 0x2907, .current = T } },
	{ "fixed: additional length 5 ends after ASC",
	  "70 00 06 00 00 00 00 05 00 00 00 00 29 07", 0,
	  { .key = 6, .asc_ascq = 0x2900, .current = T } },
	{ "fixed: longer sense with vendor bytes",
	  "70 00 04 00 00 00 00 0e 00 00 00 00 44 00 00 00 00 00 01 02 03 04",
	  0, { .key = 4, .asc_ascq = 0x4400, .current = T } },
	{ "fixed: SKS present but cut by additional length 9",
	  "70 00 05 00 00 00 00 09 00 00 00 00 24 00 00 c9 00 02", 0,
	  { .key = 5, .asc_ascq = 0x2400, .current = T } },
};

static void test_sense_parse_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		uint8_t tmp[SCSI_SENSE_MAX];
		size_t n = hex(parse_cases[i].bytes, tmp, sizeof(tmp));
		/* Exactly n bytes on the heap, so ASan sees any overread. */
		uint8_t *b = malloc(n ? n : 1);
		struct scsi_sense p;
		int rc;

		assert_non_null(b);
		memcpy(b, tmp, n);
		memset(&p, 0xa5, sizeof(p));
		rc = scsi_sense_parse(b, n, &p);
		if (rc != parse_cases[i].rc)
			fail_msg("%s: rc %d want %d", parse_cases[i].what, rc,
				 parse_cases[i].rc);
		check_sense(parse_cases[i].what, &p, &parse_cases[i].s);
		free(b);
	}
	assert_int_equal(scsi_sense_parse(NULL, 18, &(struct scsi_sense){0}),
			 -EINVAL);
}

/* ---- SKS helpers ---- */

static const struct {
	bool cdb;
	uint16_t byte;
	int bit;
	uint8_t sks[3];
} field_pointer_cases[] = {
	{ true, 2, 1, { 0xc9, 0x00, 0x02 } },
	{ true, 1, -1, { 0xc0, 0x00, 0x01 } },
	{ false, 0x1234, 7, { 0x8f, 0x12, 0x34 } },
	{ false, 0xffff, 0, { 0x88, 0xff, 0xff } },
	{ true, 0, 8, { 0xc0, 0x00, 0x00 } }, /* no such bit: byte only */
	{ false, 0x0100, -5, { 0x80, 0x01, 0x00 } },
};

static void test_sense_field_pointer(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(field_pointer_cases) /
			    sizeof(field_pointer_cases[0]);
	     i++) {
		struct scsi_sense s = { 0 };

		memset(s.sks, 0xff, sizeof(s.sks)); /* must be overwritten */
		scsi_sense_field_pointer(&s, field_pointer_cases[i].cdb,
					 field_pointer_cases[i].byte,
					 field_pointer_cases[i].bit);
		assert_true(s.sks_valid);
		if (memcmp(s.sks, field_pointer_cases[i].sks, 3) != 0)
			fail_msg("case %zu: sks %02x %02x %02x", i, s.sks[0],
				 s.sks[1], s.sks[2]);
	}
}

static void test_sense_progress(void **state)
{
	static const struct {
		uint16_t p;
		uint8_t sks[3];
	} cases[] = {
		{ 0, { 0x80, 0, 0 } },
		{ 0x8000, { 0x80, 0x80, 0x00 } },
		{ 0xffff, { 0x80, 0xff, 0xff } },
		{ 0x0102, { 0x80, 0x01, 0x02 } },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scsi_sense s = { .sks = { 0x7f, 0x7f, 0x7f } };

		scsi_sense_progress(&s, cases[i].p);
		assert_true(s.sks_valid);
		assert_memory_equal(s.sks, cases[i].sks, 3);
	}
}

/* ---- human rendering ---- */

static void test_sense_format(void **state)
{
	static const struct {
		struct scsi_sense s;
		const char *want;
	} cases[] = {
		{ { .key = 5, .asc_ascq = 0x2400, .current = T, .sks_valid = T,
		    .sks = { 0xc9, 0x00, 0x02 } },
		  "ILLEGAL REQUEST: INVALID FIELD IN CDB (field 2 bit 1)" },
		{ { .key = 5, .asc_ascq = 0x2600, .current = T, .sks_valid = T,
		    .sks = { 0x80, 0x00, 0x04 } },
		  "ILLEGAL REQUEST: INVALID FIELD IN PARAMETER LIST "
		  "(parameter 4)" },
		{ { .key = 2, .asc_ascq = 0x0404, .current = T, .sks_valid = T,
		    .sks = { 0x80, 0x80, 0x00 } },
		  "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS "
		  "(progress 50.0%)" },
		{ { .key = 2, .asc_ascq = 0x0404, .current = T, .sks_valid = T,
		    .sks = { 0x80, 0xff, 0xff } },
		  "NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS "
		  "(progress 99.9%)" },
		{ { .key = 3, .asc_ascq = 0x1100, .current = T, .info_valid = T,
		    .info = 0x1234 },
		  "MEDIUM ERROR: UNRECOVERED READ ERROR info 0x1234" },
		{ { .key = 5, .asc_ascq = 0x8001, .current = T },
		  "ILLEGAL REQUEST: ASC 0x80 ASCQ 0x01" },
		{ { .key = 4, .asc_ascq = 0x4085, .current = T },
		  "HARDWARE ERROR: DIAGNOSTIC FAILURE ON COMPONENT 85H" },
		{ { .key = 0xb, .asc_ascq = 0x4d2a, .current = T },
		  "ABORTED COMMAND: TAGGED OVERLAPPED COMMANDS (2AH = TASK TAG)" },
		{ { .key = 6, .asc_ascq = 0x2900, .current = false },
		  "UNIT ATTENTION: POWER ON, RESET, OR BUS DEVICE RESET "
		  "OCCURRED (deferred)" },
		{ { .key = 0xe, .asc_ascq = 0x1d00, .current = T,
		    .info_valid = T, .info = 0x1ff, .csi_valid = T, .csi = 3 },
		  "MISCOMPARE: MISCOMPARE DURING VERIFY OPERATION info 0x1ff "
		  "csi 0x3" },
		{ { .key = 0, .asc_ascq = 0x0000, .current = T, .ili = T },
		  "NO SENSE: NO ADDITIONAL SENSE INFORMATION ILI" },
	};
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scsi_sense_format(&cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
	/* Truncation keeps a terminated prefix. */
	memset(buf, 'x', sizeof(buf));
	scsi_sense_format(&cases[0].s, buf, 10);
	assert_string_equal(buf, "ILLEGAL R");
	assert_int_equal(buf[10], 'x');
	memset(buf, 'x', sizeof(buf));
	scsi_sense_format(&cases[0].s, buf, 1);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'x');
	scsi_sense_format(&cases[0].s, buf, 0); /* must not write */
	assert_int_equal(buf[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sense_golden),
		cmocka_unit_test(test_sense_build_simple),
		cmocka_unit_test(test_sense_build_truncated),
		cmocka_unit_test(test_sense_round_trip),
		cmocka_unit_test(test_sense_info64),
		cmocka_unit_test(test_sense_parse_cases),
		cmocka_unit_test(test_sense_field_pointer),
		cmocka_unit_test(test_sense_progress),
		cmocka_unit_test(test_sense_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
