/*
 * libFuzzer harness for the scsi module's parsers: scsi_cdb_decode() and
 * scsi_cdb_length() over arbitrary CDB bytes, scsi_sense_parse() over
 * arbitrary sense bytes, and scsi_sense_format() on what was parsed.
 * Parsed sense is rebuilt in descriptor format and parsed again; the
 * result must match (the builder and the parser agree on every field).
 *
 * Built with -DSK_FUZZ=ON and run by CTest (label fuzz) and by
 * fuzz/run-long.sh; docs/fuzzing.md has the commands.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/scsi.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_cdb(const uint8_t *data, size_t size)
{
	struct scsi_cdb_fields f;
	unsigned len = scsi_cdb_length(data, size);
	int rc = scsi_cdb_decode(data, size, &f);

	(void)scsi_opcode_name(f.opcode, f.service_action);
	if (rc == 0) {
		/* A decoded CDB was entirely inside the input. */
		if (f.cdb_len == 0 || f.cdb_len > size || f.cdb_len != len)
			abort();
		if (f.group > 0x3f || f.wrprotect > 7 || f.bytchk > 3)
			abort();
	}
}

static bool sense_same(const struct scsi_sense *a, const struct scsi_sense *b)
{
	if (a->key != b->key || a->asc_ascq != b->asc_ascq ||
	    a->current != b->current || a->info_valid != b->info_valid ||
	    a->csi_valid != b->csi_valid || a->sks_valid != b->sks_valid ||
	    a->filemark != b->filemark || a->eom != b->eom || a->ili != b->ili)
		return false;
	if (a->info_valid && a->info != b->info)
		return false;
	if (a->csi_valid && a->csi != b->csi)
		return false;
	if (a->sks_valid && memcmp(a->sks, b->sks, 3) != 0)
		return false;
	return true;
}

static void fuzz_sense(const uint8_t *data, size_t size)
{
	struct scsi_sense s, r;
	uint8_t buf[SCSI_SENSE_MAX];
	char text[160];
	size_t n;

	if (scsi_sense_parse(data, size, &s) != 0)
		return;
	scsi_sense_format(&s, text, sizeof(text));
	if (strlen(text) >= sizeof(text))
		abort();

	n = scsi_sense_build(&s, true, buf, sizeof(buf));
	if (scsi_sense_parse(buf, n, &r) != 0 || !sense_same(&s, &r))
		abort();
	/* Fixed format loses only what it cannot carry. */
	n = scsi_sense_build(&s, false, buf, sizeof(buf));
	if (n != SCSI_SENSE_FIXED_LEN || scsi_sense_parse(buf, n, &r) != 0)
		abort();
	if (r.key != s.key || r.asc_ascq != s.asc_ascq ||
	    r.current != s.current || r.sks_valid != s.sks_valid)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Heap copy of exactly size bytes: the sanitizer then catches a read
	 * one byte past the end, which a larger fuzzer buffer might hide. */
	uint8_t *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);
	fuzz_cdb(copy, size);
	fuzz_sense(copy, size);
	free(copy);
	return 0;
}
