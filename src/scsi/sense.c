/*
 * Sense data (SPC-4 4.5): building and parsing the fixed (0x70/0x71) and
 * descriptor (0x72/0x73) formats, the sense-key-specific helpers, and a
 * one-line human rendering for logs.
 *
 * The parser takes bytes from the wire (iSCSI SCSI Response sense, vscsi
 * T2I, a device behind CAM), so every length it reads is checked against
 * the buffer before it is believed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <scsikit/scsi.h>

/* Response codes (byte 0, bits 6-0). */
#define SENSE_FIXED_CURRENT 0x70
#define SENSE_FIXED_DEFERRED 0x71
#define SENSE_DESC_CURRENT 0x72
#define SENSE_DESC_DEFERRED 0x73

/* Descriptor types (SPC-4 4.5.2.1 / SBC / SSC) and their full sizes. */
#define SDESC_INFORMATION 0x00
#define SDESC_COMMAND_SPECIFIC 0x01
#define SDESC_SENSE_KEY_SPECIFIC 0x02
#define SDESC_STREAM_COMMANDS 0x04
#define SDESC_BLOCK_COMMANDS 0x05
#define SDESC_INFORMATION_LEN 12
#define SDESC_COMMAND_SPECIFIC_LEN 12
#define SDESC_SENSE_KEY_SPECIFIC_LEN 8
#define SDESC_STREAM_COMMANDS_LEN 4
#define SDESC_BLOCK_COMMANDS_LEN 4

/* Sense-key-specific byte 0 bits. */
#define SKS_SKSV 0x80
#define SKS_CD 0x40
#define SKS_BPV 0x08

void scsi_sense_field_pointer(struct scsi_sense *s, bool cdb, uint16_t byte,
			      int bit)
{
	/* SPC-4 4.5.2.4.2: SKSV | C/D | reserved(2) | BPV | BIT POINTER(3),
	 * then the FIELD POINTER, big-endian. */
	s->sks[0] = SKS_SKSV | (cdb ? SKS_CD : 0);
	if (bit >= 0 && bit <= 7)
		s->sks[0] |= SKS_BPV | (uint8_t)bit;
	scsi_put16(&s->sks[1], byte);
	s->sks_valid = true;
}

void scsi_sense_progress(struct scsi_sense *s, uint16_t progress)
{
	/* SPC-4 4.5.2.4.3: SKSV, then PROGRESS INDICATION (fraction of
	 * 65536). */
	s->sks[0] = SKS_SKSV;
	scsi_put16(&s->sks[1], progress);
	s->sks_valid = true;
}

/*
 * Fixed format, 18 bytes.  INFORMATION and COMMAND-SPECIFIC INFORMATION
 * are 4 bytes here.  Rule for wider values (SPC-4 4.5.3 / SBC-3 4.18.1: an
 * INFORMATION value that does not fit is not reported in fixed format):
 * when info is above 0xffffffff we set VALID to 0 and leave INFORMATION
 * zero; a CSI above 0xffffffff (no valid bit of its own) is likewise left
 * zero.  Callers that need 64-bit values ask for descriptor format.
 */
static size_t sense_build_fixed(const struct scsi_sense *s, uint8_t *b)
{
	memset(b, 0, SCSI_SENSE_FIXED_LEN);
	b[0] = s->current ? SENSE_FIXED_CURRENT : SENSE_FIXED_DEFERRED;
	if (s->info_valid && s->info <= UINT32_MAX) {
		b[0] |= 0x80; /* VALID */
		scsi_put32(&b[3], (uint32_t)s->info);
	}
	b[2] = (uint8_t)((s->filemark ? 0x80 : 0) | (s->eom ? 0x40 : 0) |
			 (s->ili ? 0x20 : 0) | (s->key & 0x0f));
	b[7] = SCSI_SENSE_FIXED_LEN - 8; /* ADDITIONAL SENSE LENGTH */
	if (s->csi_valid && s->csi <= UINT32_MAX)
		scsi_put32(&b[8], (uint32_t)s->csi);
	b[12] = (uint8_t)(s->asc_ascq >> 8); /* ASC */
	b[13] = (uint8_t)s->asc_ascq;	      /* ASCQ */
	/* b[14]: FIELD REPLACEABLE UNIT CODE, unused */
	if (s->sks_valid) {
		b[15] = s->sks[0] | SKS_SKSV;
		b[16] = s->sks[1];
		b[17] = s->sks[2];
	}
	return SCSI_SENSE_FIXED_LEN;
}

static size_t sense_build_desc(const struct scsi_sense *s, uint8_t *b)
{
	size_t n = 8;

	memset(b, 0, 8);
	b[0] = s->current ? SENSE_DESC_CURRENT : SENSE_DESC_DEFERRED;
	b[1] = s->key & 0x0f;
	b[2] = (uint8_t)(s->asc_ascq >> 8);
	b[3] = (uint8_t)s->asc_ascq;
	if (s->info_valid) {
		/* Information descriptor: type, ADDITIONAL LENGTH 0x0a,
		 * VALID (must be one), reserved, INFORMATION(8). */
		memset(&b[n], 0, SDESC_INFORMATION_LEN);
		b[n] = SDESC_INFORMATION;
		b[n + 1] = SDESC_INFORMATION_LEN - 2;
		b[n + 2] = 0x80;
		scsi_put64(&b[n + 4], s->info);
		n += SDESC_INFORMATION_LEN;
	}
	if (s->csi_valid) {
		memset(&b[n], 0, SDESC_COMMAND_SPECIFIC_LEN);
		b[n] = SDESC_COMMAND_SPECIFIC;
		b[n + 1] = SDESC_COMMAND_SPECIFIC_LEN - 2;
		scsi_put64(&b[n + 4], s->csi);
		n += SDESC_COMMAND_SPECIFIC_LEN;
	}
	if (s->sks_valid) {
		/* type, 0x06, reserved(2), SKS(3), reserved */
		memset(&b[n], 0, SDESC_SENSE_KEY_SPECIFIC_LEN);
		b[n] = SDESC_SENSE_KEY_SPECIFIC;
		b[n + 1] = SDESC_SENSE_KEY_SPECIFIC_LEN - 2;
		b[n + 4] = s->sks[0] | SKS_SKSV;
		b[n + 5] = s->sks[1];
		b[n + 6] = s->sks[2];
		n += SDESC_SENSE_KEY_SPECIFIC_LEN;
	}
	if (s->filemark || s->eom) {
		/* Stream commands descriptor (SSC) carries all three bits. */
		memset(&b[n], 0, SDESC_STREAM_COMMANDS_LEN);
		b[n] = SDESC_STREAM_COMMANDS;
		b[n + 1] = SDESC_STREAM_COMMANDS_LEN - 2;
		b[n + 3] = (uint8_t)((s->filemark ? 0x80 : 0) |
				     (s->eom ? 0x40 : 0) | (s->ili ? 0x20 : 0));
		n += SDESC_STREAM_COMMANDS_LEN;
	} else if (s->ili) {
		/* Block commands descriptor (SBC): ILI only. */
		memset(&b[n], 0, SDESC_BLOCK_COMMANDS_LEN);
		b[n] = SDESC_BLOCK_COMMANDS;
		b[n + 1] = SDESC_BLOCK_COMMANDS_LEN - 2;
		b[n + 3] = 0x20;
		n += SDESC_BLOCK_COMMANDS_LEN;
	}
	b[7] = (uint8_t)(n - 8); /* ADDITIONAL SENSE LENGTH */
	return n;
}

size_t scsi_sense_build(const struct scsi_sense *s, bool descriptor,
			uint8_t *buf, size_t len)
{
	/* Built whole, then cut to the caller's buffer: truncated sense is
	 * what SPC prescribes when the allocation length is short, and the
	 * ADDITIONAL SENSE LENGTH keeps saying how much there was. */
	uint8_t tmp[SCSI_SENSE_MAX];
	size_t n;

	n = descriptor ? sense_build_desc(s, tmp) : sense_build_fixed(s, tmp);
	if (n > len)
		n = len;
	if (n)
		memcpy(buf, tmp, n);
	return n;
}

size_t scsi_sense_build_simple(uint8_t key, uint16_t asc_ascq,
			       bool descriptor, uint8_t *buf, size_t len)
{
	struct scsi_sense s = {
		.key = key,
		.asc_ascq = asc_ascq,
		.current = true,
	};

	return scsi_sense_build(&s, descriptor, buf, len);
}

static int sense_parse_fixed(const uint8_t *b, size_t end,
			     struct scsi_sense *s)
{
	/* end = 8 + ADDITIONAL SENSE LENGTH, already checked against the
	 * buffer; fields beyond it are absent and stay zero. */
	s->info_valid = b[0] & 0x80;
	s->info = scsi_get32(&b[3]);
	s->filemark = b[2] & 0x80;
	s->eom = b[2] & 0x40;
	s->ili = b[2] & 0x20;
	s->key = b[2] & 0x0f;
	if (end >= 12) {
		/* No valid bit of its own: report it when non-zero. */
		s->csi = scsi_get32(&b[8]);
		s->csi_valid = s->csi != 0;
	}
	if (end >= 13)
		s->asc_ascq = (uint16_t)(b[12] << 8);
	if (end >= 14)
		s->asc_ascq |= b[13];
	if (end >= 18 && (b[15] & SKS_SKSV)) {
		s->sks_valid = true;
		memcpy(s->sks, &b[15], 3);
	}
	return 0;
}

static int sense_parse_desc(const uint8_t *b, size_t end,
			    struct scsi_sense *s)
{
	size_t off = 8;

	s->key = b[1] & 0x0f;
	s->asc_ascq = scsi_get16(&b[2]);
	while (off < end) {
		uint8_t type, dlen;

		if (end - off < 2)
			return -EINVAL; /* a lone byte cannot be a descriptor */
		type = b[off];
		dlen = b[off + 1];
		if ((size_t)dlen + 2 > end - off)
			return -EINVAL;
		switch (type) {
		case SDESC_INFORMATION:
			if (dlen + 2 < SDESC_INFORMATION_LEN)
				return -EINVAL;
			s->info_valid = b[off + 2] & 0x80;
			s->info = scsi_get64(&b[off + 4]);
			break;
		case SDESC_COMMAND_SPECIFIC:
			if (dlen + 2 < SDESC_COMMAND_SPECIFIC_LEN)
				return -EINVAL;
			s->csi_valid = true;
			s->csi = scsi_get64(&b[off + 4]);
			break;
		case SDESC_SENSE_KEY_SPECIFIC:
			if (dlen + 2 < SDESC_SENSE_KEY_SPECIFIC_LEN)
				return -EINVAL;
			s->sks_valid = b[off + 4] & SKS_SKSV;
			memcpy(s->sks, &b[off + 4], 3);
			break;
		case SDESC_STREAM_COMMANDS:
			if (dlen + 2 < SDESC_STREAM_COMMANDS_LEN)
				return -EINVAL;
			s->filemark = b[off + 3] & 0x80;
			s->eom = b[off + 3] & 0x40;
			s->ili = b[off + 3] & 0x20;
			break;
		case SDESC_BLOCK_COMMANDS:
			if (dlen + 2 < SDESC_BLOCK_COMMANDS_LEN)
				return -EINVAL;
			s->ili = b[off + 3] & 0x20;
			break;
		default:
			break; /* other descriptors: skipped by length */
		}
		off += (size_t)dlen + 2;
	}
	return 0;
}

int scsi_sense_parse(const uint8_t *buf, size_t len, struct scsi_sense *s)
{
	size_t end;
	int rc;

	memset(s, 0, sizeof(*s));
	/* Both formats have their ADDITIONAL SENSE LENGTH in byte 7; without
	 * it nothing can be trusted. */
	if (buf == NULL || len < 8)
		return -EINVAL;
	end = 8 + (size_t)buf[7];
	if (end > len)
		return -EINVAL;
	switch (buf[0] & 0x7f) {
	case SENSE_FIXED_CURRENT:
	case SENSE_FIXED_DEFERRED:
		s->current = (buf[0] & 0x7f) == SENSE_FIXED_CURRENT;
		rc = sense_parse_fixed(buf, end, s);
		break;
	case SENSE_DESC_CURRENT:
	case SENSE_DESC_DEFERRED:
		s->current = (buf[0] & 0x7f) == SENSE_DESC_CURRENT;
		rc = sense_parse_desc(buf, end, s);
		break;
	default:
		return -EINVAL; /* 0x7f vendor specific, the rest reserved */
	}
	if (rc < 0)
		memset(s, 0, sizeof(*s));
	return rc;
}

const char *scsi_sense_key_name(uint8_t key)
{
	static const char *const names[16] = {
		"NO SENSE",	   "RECOVERED ERROR", "NOT READY",
		"MEDIUM ERROR",	   "HARDWARE ERROR",  "ILLEGAL REQUEST",
		"UNIT ATTENTION",  "DATA PROTECT",    "BLANK CHECK",
		"VENDOR SPECIFIC", "COPY ABORTED",    "ABORTED COMMAND",
		"EQUAL",	   "VOLUME OVERFLOW", "MISCOMPARE",
		"COMPLETED",
	};

	if (key > 0xf)
		return "UNKNOWN";
	return names[key];
}

/* Append to buf at *pos, never past len, always NUL-terminated. */
static void fmt_append(char *buf, size_t len, size_t *pos, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));

static void fmt_append(char *buf, size_t len, size_t *pos, const char *fmt,
		       ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos += (size_t)n;
	if (*pos >= len)
		*pos = len;
}

/* The ASC/ASCQ text, with the "NN" of the range entries (e.g.
 * "DIAGNOSTIC FAILURE ON COMPONENT NN") filled in from the ASCQ. */
static void fmt_asc(char *buf, size_t len, size_t *pos, uint16_t asc_ascq)
{
	const char *name = scsi_asc_name(asc_ascq);
	const char *nn;

	if (name == NULL) {
		fmt_append(buf, len, pos, "ASC 0x%02x ASCQ 0x%02x",
			   asc_ascq >> 8, asc_ascq & 0xff);
		return;
	}
	nn = strstr(name, "NN");
	if (nn == NULL) {
		fmt_append(buf, len, pos, "%s", name);
		return;
	}
	fmt_append(buf, len, pos, "%.*s%02XH%s", (int)(nn - name), name,
		   asc_ascq & 0xff, nn + 2);
}

void scsi_sense_format(const struct scsi_sense *s, char *buf, size_t len)
{
	size_t pos = 0;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	fmt_append(buf, len, &pos, "%s: ", scsi_sense_key_name(s->key));
	fmt_asc(buf, len, &pos, s->asc_ascq);
	if (s->sks_valid) {
		/* The meaning of the SKS bytes depends on the key (SPC-4
		 * 4.5.2.4). */
		uint16_t v = scsi_get16(&s->sks[1]);

		switch (s->key) {
		case SCSI_SK_ILLEGAL_REQUEST:
			fmt_append(buf, len, &pos, " (%s %u",
				   (s->sks[0] & SKS_CD) ? "field" : "parameter",
				   v);
			if (s->sks[0] & SKS_BPV)
				fmt_append(buf, len, &pos, " bit %u",
					   s->sks[0] & 0x7);
			fmt_append(buf, len, &pos, ")");
			break;
		case SCSI_SK_NO_SENSE:
		case SCSI_SK_NOT_READY:
			fmt_append(buf, len, &pos, " (progress %u.%u%%)",
				   (unsigned)(v * 100u / 65536u),
				   (unsigned)(v * 1000u / 65536u % 10u));
			break;
		case SCSI_SK_RECOVERED_ERROR:
		case SCSI_SK_MEDIUM_ERROR:
		case SCSI_SK_HARDWARE_ERROR:
			fmt_append(buf, len, &pos, " (retry count %u)", v);
			break;
		case SCSI_SK_COPY_ABORTED:
			fmt_append(buf, len, &pos, " (segment %u)", v);
			break;
		case SCSI_SK_UNIT_ATTENTION:
			if (s->sks[0] & 0x01)
				fmt_append(buf, len, &pos, " (UA queue overflow)");
			break;
		default:
			fmt_append(buf, len, &pos, " (sks 0x%02x%02x%02x)",
				   s->sks[0], s->sks[1], s->sks[2]);
			break;
		}
	}
	if (s->info_valid)
		fmt_append(buf, len, &pos, " info 0x%" PRIx64, s->info);
	if (s->csi_valid)
		fmt_append(buf, len, &pos, " csi 0x%" PRIx64, s->csi);
	if (s->filemark)
		fmt_append(buf, len, &pos, " FILEMARK");
	if (s->eom)
		fmt_append(buf, len, &pos, " EOM");
	if (s->ili)
		fmt_append(buf, len, &pos, " ILI");
	if (!s->current)
		fmt_append(buf, len, &pos, " (deferred)");
}
