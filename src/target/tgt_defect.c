/*
 * READ DEFECT DATA(10) and (12) (SBC-3 5.19 / 5.20): a virtual medium has
 * no defects, so both lists -- the primary (PLIST) and the grown (GLIST)
 * -- exist and are empty.  The answer is the header alone, in the defect
 * list format asked for: every format SBC defines can hold an empty list,
 * except the vendor-specific one (110b), which this device does not have.
 * Reserved formats (001b, 010b, 111b) and 110b are INVALID FIELD IN CDB
 * pointing at the DEFECT LIST FORMAT field.
 */
#include <string.h>

#include "target/tgt_int.h"

/* DEFECT LIST FORMAT values (SBC-3 6.2.1). */
#define DLF_SHORT_BLOCK 0x0	/* 000b */
#define DLF_LONG_BLOCK 0x3	/* 011b */
#define DLF_BYTES_FROM_INDEX 0x4	/* 100b */
#define DLF_PHYSICAL_SECTOR 0x5	/* 101b */

static bool format_supported(uint8_t fmt)
{
	switch (fmt) {
	case DLF_SHORT_BLOCK:
	case DLF_LONG_BLOCK:
	case DLF_BYTES_FROM_INDEX:
	case DLF_PHYSICAL_SECTOR:
		return true;
	default:
		return false;
	}
}

void tgt_h_read_defect(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool d12 = cdb[0] == SCSI_READ_DEFECT_DATA_12;
	unsigned fbyte = d12 ? 1 : 2;	/* REQ_PLIST, REQ_GLIST, format */
	uint8_t req = cdb[fbyte] & 0x18, fmt = cdb[fbyte] & 0x07;
	uint32_t alloc = d12 ? scsi_get32(cdb + 6) : scsi_get16(cdb + 7);
	uint8_t out[8];

	if (!format_supported(fmt)) {
		tgt_cmd_bad_cdb(c, fbyte, 2);
		return;
	}
	memset(out, 0, sizeof(out));
	/* PLISTV / GLISTV: the lists asked for are there (empty). */
	out[1] = (uint8_t)(req | fmt);
	/* DEFECT LIST LENGTH 0; in (12) the GENERATION CODE stays 0 ("not
	 * reported") and the list starts at any ADDRESS DESCRIPTOR INDEX
	 * empty. */
	tgt_cmd_data_in(c, out, d12 ? 8 : 4, alloc);
	tgt_cmd_good(c);
}
