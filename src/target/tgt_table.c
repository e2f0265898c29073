/*
 * The command table: one row per opcode / service action the engine
 * implements, with its handler, CDB length, the valid bits of every CDB
 * byte, its data direction and the states in which it runs.  Dispatch
 * (tgt_core.c) does the generic checks from these rows, and REPORT
 * SUPPORTED OPERATION CODES derives its CDB usage data from the same masks,
 * so what is reported is exactly what is accepted.
 *
 * Masks follow SPC-4 / SBC-3 with these choices (see docs/target-commands.md):
 *   - RDPROTECT/WRPROTECT/VRPROTECT are not valid (no protection
 *     information), so a nonzero value is INVALID FIELD IN CDB;
 *   - DPO and FUA are valid (the mode page header sets DPOFUA);
 *   - ANCHOR is not valid (ANC_SUP = 0);
 *   - group numbers are accepted and ignored;
 *   - in the CONTROL byte only the vendor bits are ignored; NACA and LINK
 *     are rejected.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

#define R TGT_DIR_READ
#define W TGT_DIR_WRITE
#define N TGT_DIR_NONE

/* Flag groups.  ALUA: SPC-4 5.15.2.4-6 let INQUIRY, REPORT LUNS and
 * REQUEST SENSE run in every state (F_ALWAYS), the reporting MAINTENANCE
 * IN commands too (F_ALUA_INFO); standby adds mode pages and persistent
 * reservations (F_ALUA_SB), unavailable adds SET TARGET PORT GROUPS. */
#define F_ALUA_INFO (TGT_CF_ALUA_SB | TGT_CF_ALUA_UN | TGT_CF_ALUA_TR)
#define F_ALUA_SB TGT_CF_ALUA_SB
#define F_ALWAYS (TGT_CF_UA_OK | TGT_CF_RES_OK | TGT_CF_NO_LUN_OK | \
		  TGT_CF_PR_ALLOWED | F_ALUA_INFO | F_MEDIUMLESS)
/* Commands about the device, not its medium: they run with no medium
 * (NOT READY otherwise) and, the first ones, while a sanitize runs
 * (SBC-4 4.11.5). */
#define F_MEDIUMLESS (TGT_CF_NO_MEDIUM_OK | TGT_CF_SANITIZE_OK)
#define NM TGT_CF_NO_MEDIUM_OK
#define F_RD (TGT_CF_IO | TGT_CF_PR_READ)
#define F_WR (TGT_CF_IO | TGT_CF_MEDIUM_WRITE)

/* Mask helpers: LBA/length bytes are fully valid. */
#define B 0xff

const struct tgt_cmd_desc tgt_cmd_table[] = {
	/* ---- SPC ---- */
	{ SCSI_TEST_UNIT_READY, 0, 6, N, TGT_CF_PR_ALLOWED, 1,
	  { 0, 0, 0, 0, 0, 0 }, tgt_h_tur, "TEST UNIT READY" },
	{ SCSI_REQUEST_SENSE, 0, 6, R, F_ALWAYS, 1,
	  { 0, 0x01, 0, 0, B, 0 }, tgt_h_request_sense, "REQUEST SENSE" },
	{ SCSI_INQUIRY, 0, 6, R, F_ALWAYS, 1,
	  { 0, 0x01, B, B, B, 0 }, tgt_h_inquiry, "INQUIRY" },
	{ SCSI_MODE_SELECT_6, 0, 6, W, F_ALUA_SB | NM, 1,
	  { 0, 0x11, 0, 0, B, 0 }, tgt_h_mode_select, "MODE SELECT(6)" },
	{ SCSI_RESERVE_6, 0, 6, N, NM, 1,
	  { 0, 0, 0, 0, 0, 0 }, tgt_h_reserve, "RESERVE(6)" },
	{ SCSI_RELEASE_6, 0, 6, N, TGT_CF_RES_OK | NM, 1,
	  { 0, 0, 0, 0, 0, 0 }, tgt_h_release, "RELEASE(6)" },
	{ SCSI_MODE_SENSE_6, 0, 6, R, TGT_CF_PR_READ | F_ALUA_SB | NM, 1,
	  { 0, 0x08, B, B, B, 0 }, tgt_h_mode_sense, "MODE SENSE(6)" },
	{ SCSI_START_STOP_UNIT, 0, 6, N, NM, 30,
	  { 0, 0x01, 0, 0x0f, 0xf7, 0 }, tgt_h_start_stop, "START STOP UNIT" },
	{ SCSI_PREVENT_ALLOW, 0, 6, N, NM, 1,
	  { 0, 0, 0, 0, 0x03, 0 }, tgt_h_prevent_allow,
	  "PREVENT ALLOW MEDIUM REMOVAL" },
	{ SCSI_MODE_SELECT_10, 0, 10, W, F_ALUA_SB | NM, 1,
	  { 0, 0x11, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_mode_select,
	  "MODE SELECT(10)" },
	{ SCSI_RESERVE_10, 0, 10, N, NM, 1,
	  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, tgt_h_reserve, "RESERVE(10)" },
	{ SCSI_RELEASE_10, 0, 10, N, TGT_CF_RES_OK | NM, 1,
	  { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, tgt_h_release, "RELEASE(10)" },
	{ SCSI_MODE_SENSE_10, 0, 10, R, TGT_CF_PR_READ | F_ALUA_SB | NM, 1,
	  { 0, 0x18, B, B, 0, 0, 0, B, B, 0 }, tgt_h_mode_sense,
	  "MODE SENSE(10)" },
	{ SCSI_PERSISTENT_RESERVE_IN, 0x00, 10, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_pr_in,
	  "PERSISTENT RESERVE IN / READ KEYS" },
	{ SCSI_PERSISTENT_RESERVE_IN, 0x01, 10, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_pr_in,
	  "PERSISTENT RESERVE IN / READ RESERVATION" },
	{ SCSI_PERSISTENT_RESERVE_IN, 0x02, 10, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_pr_in,
	  "PERSISTENT RESERVE IN / REPORT CAPABILITIES" },
	{ SCSI_PERSISTENT_RESERVE_IN, 0x03, 10, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_pr_in,
	  "PERSISTENT RESERVE IN / READ FULL STATUS" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x00, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / REGISTER" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x01, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / RESERVE" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x02, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / RELEASE" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x03, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / CLEAR" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x04, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / PREEMPT" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x05, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / PREEMPT AND ABORT" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0x06, 10, W,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED | F_ALUA_SB | NM, 1,
	  { 0, 0x1f, B, 0, 0, B, B, B, B, 0 }, tgt_h_pr_out,
	  "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY" },
	{ SCSI_REPORT_LUNS, 0, 12, R, F_ALWAYS, 1,
	  { 0, 0, B, 0, 0, 0, B, B, B, B, 0, 0 }, tgt_h_report_luns,
	  "REPORT LUNS" },
	/* ---- Atomic writes (tgt_atomic.c) ---- */
	{ SCSI_ORWRITE_16, 0, 16, W, F_WR, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_orwrite, "ORWRITE(16)" },
	{ SCSI_WRITE_ATOMIC_16, 0, 16, W, F_WR | TGT_CF_NEEDS_ATOMIC, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_write_atomic, "WRITE ATOMIC(16)" },

	/* ---- Third-party copy (tgt_xcopy.c) ---- */
	{ SCSI_EXTENDED_COPY, 0x00, 16, W, TGT_CF_SA, 60,
	  { 0, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, 0, 0 },
	  tgt_h_xcopy, "EXTENDED COPY(LID1)" },
	{ SCSI_RECEIVE_COPY_RESULTS, 0x00, 16, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED, 1,
	  { 0, 0x1f, B, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, 0, 0 },
	  tgt_h_rcr, "RECEIVE COPY RESULTS / COPY STATUS" },
	{ SCSI_RECEIVE_COPY_RESULTS, 0x01, 16, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED, 1,
	  { 0, 0x1f, B, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, 0, 0 },
	  tgt_h_rcr, "RECEIVE COPY RESULTS / RECEIVE DATA" },
	{ SCSI_RECEIVE_COPY_RESULTS, 0x03, 16, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED, 1,
	  { 0, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, 0, 0 },
	  tgt_h_rcr, "RECEIVE COPY RESULTS / OPERATING PARAMETERS" },
	{ SCSI_RECEIVE_COPY_RESULTS, 0x04, 16, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED, 1,
	  { 0, 0x1f, B, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, 0, 0 },
	  tgt_h_rcr, "RECEIVE COPY RESULTS / FAILED SEGMENT DETAILS" },

	{ SCSI_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_OPCODES, 12, R,
	  TGT_CF_SA | TGT_CF_RES_OK | TGT_CF_PR_ALLOWED | F_ALUA_INFO | F_MEDIUMLESS, 1,
	  { 0, 0x1f, 0x87, B, B, B, B, B, B, B, 0, 0 }, tgt_h_rsoc,
	  "REPORT SUPPORTED OPERATION CODES" },
	{ SCSI_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_TMFS, 12, R,
	  TGT_CF_SA | TGT_CF_RES_OK | TGT_CF_PR_ALLOWED | F_ALUA_INFO | F_MEDIUMLESS, 1,
	  { 0, 0x1f, 0x80, 0, 0, 0, B, B, B, B, 0, 0 }, tgt_h_rstmf,
	  "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS" },
	/* ALUA (tgt_alua.c): only when target port groups exist.  SPC-4
	 * 5.9.1: neither conflicts with reservations. */
	{ SCSI_MAINTENANCE_IN, SCSI_MI_REPORT_TARGET_PORT_GROUPS, 12, R,
	  TGT_CF_SA | TGT_CF_RES_OK | TGT_CF_PR_ALLOWED | TGT_CF_NEEDS_ALUA |
	  F_ALUA_INFO | NM, 1,
	  { 0, 0xff, 0, 0, 0, 0, B, B, B, B, 0, 0 }, tgt_h_rtpg,
	  "REPORT TARGET PORT GROUPS" },
	{ SCSI_MAINTENANCE_OUT, 0x0a, 12, W,
	  TGT_CF_SA | TGT_CF_RES_OK | TGT_CF_PR_ALLOWED | TGT_CF_NEEDS_ALUA |
	  TGT_CF_ALUA_SB | TGT_CF_ALUA_UN | NM, 1,
	  { 0, 0x1f, 0, 0, 0, 0, B, B, B, B, 0, 0 }, tgt_h_stpg,
	  "SET TARGET PORT GROUPS" },

	/* ---- SBC ---- */
	{ SCSI_READ_6, 0, 6, R, F_RD, 30,
	  { 0, 0x1f, B, B, B, 0 }, tgt_h_read, "READ(6)" },
	{ SCSI_WRITE_6, 0, 6, W, F_WR, 30,
	  { 0, 0x1f, B, B, B, 0 }, tgt_h_write, "WRITE(6)" },
	{ SCSI_READ_CAPACITY_10, 0, 10, R, TGT_CF_PR_ALLOWED, 1,
	  { 0, 0, B, B, B, B, 0, 0, 0x01, 0 }, tgt_h_read_capacity10,
	  "READ CAPACITY(10)" },
	{ SCSI_READ_10, 0, 10, R, F_RD, 30,
	  { 0, 0x18, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_read, "READ(10)" },
	{ SCSI_WRITE_10, 0, 10, W, F_WR, 30,
	  { 0, 0x18, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_write, "WRITE(10)" },
	{ SCSI_WRITE_VERIFY_10, 0, 10, W, F_WR, 30,
	  { 0, 0x16, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_write_verify,
	  "WRITE AND VERIFY(10)" },
	{ SCSI_VERIFY_10, 0, 10, W, TGT_CF_IO | TGT_CF_PR_READ, 30,
	  { 0, 0x16, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_verify, "VERIFY(10)" },
	{ SCSI_PREFETCH_10, 0, 10, N, TGT_CF_PR_READ, 30,
	  { 0, 0x02, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_prefetch,
	  "PRE-FETCH(10)" },
	{ SCSI_SYNCHRONIZE_CACHE_10, 0, 10, N, 0, 60,
	  { 0, 0x06, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_sync_cache,
	  "SYNCHRONIZE CACHE(10)" },
	{ SCSI_WRITE_SAME_10, 0, 10, W, F_WR, 60,
	  { 0, 0x08, B, B, B, B, 0x1f, B, B, 0 }, tgt_h_write_same,
	  "WRITE SAME(10)" },
	{ SCSI_UNMAP, 0, 10, W, TGT_CF_MEDIUM_WRITE | TGT_CF_NEEDS_DISCARD, 60,
	  { 0, 0, 0, 0, 0, 0, 0x1f, B, B, 0 }, tgt_h_unmap, "UNMAP" },
	{ SCSI_READ_16, 0, 16, R, F_RD, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_read, "READ(16)" },
	{ SCSI_COMPARE_AND_WRITE, 0, 16, W, F_WR, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, 0, 0, 0, B, 0x1f, 0 },
	  tgt_h_compare_and_write, "COMPARE AND WRITE" },
	{ SCSI_WRITE_16, 0, 16, W, F_WR, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_write, "WRITE(16)" },
	{ SCSI_WRITE_VERIFY_16, 0, 16, W, F_WR, 30,
	  { 0, 0x16, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_write_verify, "WRITE AND VERIFY(16)" },
	{ SCSI_VERIFY_16, 0, 16, W, TGT_CF_IO | TGT_CF_PR_READ, 30,
	  { 0, 0x16, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_verify, "VERIFY(16)" },
	{ SCSI_PREFETCH_16, 0, 16, N, TGT_CF_PR_READ, 30,
	  { 0, 0x02, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_prefetch, "PRE-FETCH(16)" },
	{ SCSI_SYNCHRONIZE_CACHE_16, 0, 16, N, 0, 60,
	  { 0, 0x06, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_sync_cache, "SYNCHRONIZE CACHE(16)" },
	{ SCSI_WRITE_SAME_16, 0, 16, W, F_WR, 60,
	  { 0, 0x09, B, B, B, B, B, B, B, B, B, B, B, B, 0x1f, 0 },
	  tgt_h_write_same, "WRITE SAME(16)" },
	{ SCSI_SERVICE_ACTION_IN_16, SCSI_SAI_READ_CAPACITY_16, 16, R,
	  TGT_CF_SA | TGT_CF_PR_ALLOWED, 1,
	  { 0, 0x1f, B, B, B, B, B, B, B, B, B, B, B, B, 0x01, 0 },
	  tgt_h_read_capacity16, "READ CAPACITY(16)" },
	{ SCSI_SERVICE_ACTION_IN_16, SCSI_SAI_GET_LBA_STATUS, 16, R,
	  TGT_CF_SA | TGT_CF_PR_READ, 1,
	  { 0, 0x1f, B, B, B, B, B, B, B, B, B, B, B, B, 0, 0 },
	  tgt_h_get_lba_status, "GET LBA STATUS" },
	/* ---- SBC: sanitize and defect data (tgt_sanitize.c, tgt_defect.c);
	 * CRYPTO ERASE (03h) has no row: no encryption to forget. ---- */
	{ SCSI_SANITIZE, SCSI_SANITIZE_OVERWRITE, 10, W,
	  TGT_CF_SA | TGT_CF_MEDIUM_WRITE, 3600,
	  { 0, 0xbf, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_sanitize,
	  "SANITIZE / OVERWRITE" },
	{ SCSI_SANITIZE, SCSI_SANITIZE_BLOCK_ERASE, 10, N,
	  TGT_CF_SA | TGT_CF_MEDIUM_WRITE | TGT_CF_NEEDS_DISCARD, 3600,
	  { 0, 0xbf, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_sanitize,
	  "SANITIZE / BLOCK ERASE" },
	{ SCSI_SANITIZE, SCSI_SANITIZE_EXIT_FAILURE_MODE, 10, N,
	  TGT_CF_SA | TGT_CF_MEDIUM_WRITE, 1,
	  { 0, 0xbf, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_sanitize,
	  "SANITIZE / EXIT FAILURE MODE" },
	{ SCSI_READ_DEFECT_DATA_10, 0, 10, R, 0, 1,
	  { 0, 0, 0x1f, 0, 0, 0, 0, B, B, 0 }, tgt_h_read_defect,
	  "READ DEFECT DATA(10)" },
	{ SCSI_READ_DEFECT_DATA_12, 0, 12, R, 0, 1,
	  { 0, 0x1f, B, B, B, B, B, B, B, B, 0, 0 }, tgt_h_read_defect,
	  "READ DEFECT DATA(12)" },

	/* ---- MMC, on CD-ROM LUs only (tgt_mmc.c) ---- */
	{ SCSI_MMC_READ_TOC, 0, 10, R, TGT_CF_MMC_ONLY | TGT_CF_PR_READ, 1,
	  { 0, 0x02, 0x0f, 0, 0, 0, B, B, B, 0 }, tgt_h_read_toc,
	  "READ TOC/PMA/ATIP" },
	{ SCSI_MMC_GET_CONFIGURATION, 0, 10, R,
	  TGT_CF_MMC_ONLY | TGT_CF_UA_OK | TGT_CF_PR_ALLOWED | NM, 1,
	  { 0, 0x03, B, B, 0, 0, 0, B, B, 0 }, tgt_h_get_configuration,
	  "GET CONFIGURATION" },
	{ SCSI_MMC_GET_EVENT_STATUS, 0, 10, R,
	  TGT_CF_MMC_ONLY | TGT_CF_UA_OK | TGT_CF_PR_ALLOWED | NM, 1,
	  { 0, 0x01, 0, 0, B, 0, 0, B, B, 0 }, tgt_h_get_event_status,
	  "GET EVENT STATUS NOTIFICATION" },
	{ SCSI_MMC_READ_DISC_INFORMATION, 0, 10, R,
	  TGT_CF_MMC_ONLY | TGT_CF_PR_READ, 1,
	  { 0, 0x07, 0, 0, 0, 0, 0, B, B, 0 }, tgt_h_read_disc_info,
	  "READ DISC INFORMATION" },
	{ SCSI_MMC_READ_TRACK_INFORMATION, 0, 10, R,
	  TGT_CF_MMC_ONLY | TGT_CF_PR_READ, 1,
	  { 0, 0x03, B, B, B, B, 0, B, B, 0 }, tgt_h_read_track_info,
	  "READ TRACK INFORMATION" },
	{ SCSI_MMC_MECHANISM_STATUS, 0, 12, R,
	  TGT_CF_MMC_ONLY | TGT_CF_PR_ALLOWED | NM, 1,
	  { 0, 0, 0, 0, 0, 0, 0, 0, B, B, 0, 0 }, tgt_h_mechanism_status,
	  "MECHANISM STATUS" },

	{ SCSI_READ_12, 0, 12, R, F_RD, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, 0x1f, 0 }, tgt_h_read,
	  "READ(12)" },
	{ SCSI_WRITE_12, 0, 12, W, F_WR, 30,
	  { 0, 0x18, B, B, B, B, B, B, B, B, 0x1f, 0 }, tgt_h_write,
	  "WRITE(12)" },
	{ SCSI_WRITE_VERIFY_12, 0, 12, W, F_WR, 30,
	  { 0, 0x16, B, B, B, B, B, B, B, B, 0x1f, 0 }, tgt_h_write_verify,
	  "WRITE AND VERIFY(12)" },
	{ SCSI_VERIFY_12, 0, 12, W, TGT_CF_IO | TGT_CF_PR_READ, 30,
	  { 0, 0x16, B, B, B, B, B, B, B, B, 0x1f, 0 }, tgt_h_verify,
	  "VERIFY(12)" },
};

const unsigned tgt_cmd_table_len =
	sizeof(tgt_cmd_table) / sizeof(tgt_cmd_table[0]);

/* Opcode -> first row, built once. */
static int16_t tgt_index[256];
static bool tgt_has_sa[256];
static pthread_once_t tgt_index_once = PTHREAD_ONCE_INIT;

static void index_build(void)
{
	unsigned i;

	for (i = 0; i < 256; i++)
		tgt_index[i] = -1;
	for (i = 0; i < tgt_cmd_table_len; i++) {
		const struct tgt_cmd_desc *d = &tgt_cmd_table[i];

		if (tgt_index[d->opcode] < 0)
			tgt_index[d->opcode] = (int16_t)i;
		if (d->flags & TGT_CF_SA)
			tgt_has_sa[d->opcode] = true;
	}
}

const struct tgt_cmd_desc *tgt_table_lookup(uint8_t opcode, uint8_t sa,
					    bool *has_sa)
{
	unsigned i;

	pthread_once(&tgt_index_once, index_build);
	*has_sa = tgt_has_sa[opcode];
	if (tgt_index[opcode] < 0)
		return NULL;
	if (!*has_sa)
		return &tgt_cmd_table[tgt_index[opcode]];
	for (i = (unsigned)tgt_index[opcode];
	     i < tgt_cmd_table_len && tgt_cmd_table[i].opcode == opcode; i++)
		if (tgt_cmd_table[i].sa == sa)
			return &tgt_cmd_table[i];
	return NULL;
}

bool tgt_desc_supported(const struct tgt_cmd_desc *d,
			const struct tgt_lun *lun)
{
	if ((d->flags & TGT_CF_NEEDS_DISCARD) && lun != NULL &&
	    !bdev_geometry(lun->bd)->can_discard)
		return false;
	if ((d->flags & TGT_CF_NEEDS_ALUA) && !tgt_alua_enabled())
		return false;
	if ((d->flags & TGT_CF_NEEDS_ATOMIC) && lun != NULL &&
	    tgt_atomic_max_blocks(lun) == 0)
		return false;
	/* A CD-ROM LU has its own command set (tgt_mmc.c). */
	if (lun != NULL && !tgt_mmc_row_ok(d, lun))
		return false;
	return true;
}

bool tgt_opcode_supported(uint8_t opcode, const struct tgt_lun *lun)
{
	unsigned i;

	for (i = 0; i < tgt_cmd_table_len; i++)
		if (tgt_cmd_table[i].opcode == opcode &&
		    tgt_desc_supported(&tgt_cmd_table[i], lun))
			return true;
	return false;
}

void tgt_foreach_command(void (*fn)(uint8_t opcode, uint16_t sa,
				    const char *name, void *arg),
			 void *arg)
{
	unsigned i;

	for (i = 0; i < tgt_cmd_table_len; i++)
		fn(tgt_cmd_table[i].opcode, tgt_cmd_table[i].sa,
		   tgt_cmd_table[i].name, arg);
}

/* ---- REPORT SUPPORTED OPERATION CODES (SPC-4 6.35) ---- */

/* CDB usage data of d into out (d->cdb_len bytes). */
static void usage_data(const struct tgt_cmd_desc *d, uint8_t *out)
{
	unsigned i;

	out[0] = d->opcode;
	for (i = 1; i < d->cdb_len; i++)
		out[i] = d->mask[i];
	/* The service action field carries the service action itself. */
	if (d->flags & TGT_CF_SA)
		out[1] = (uint8_t)((d->mask[1] & ~0x1f) | d->sa);
}

static size_t timeouts_desc(const struct tgt_cmd_desc *d, uint8_t *p)
{
	memset(p, 0, 12);
	scsi_put16(p, 0x0a);			/* DESCRIPTOR LENGTH */
	scsi_put32(p + 4, d->timeout_s);	/* NOMINAL COMMAND TIMEOUT */
	scsi_put32(p + 8, d->timeout_s * 2u);	/* RECOMMENDED TIMEOUT */
	return 12;
}

void tgt_h_rsoc(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool rctd = cdb[2] & 0x80;
	uint8_t opts = cdb[2] & 0x07, req_op = cdb[3];
	uint16_t req_sa = scsi_get16(cdb + 4);
	uint32_t alloc = scsi_get32(cdb + 6);
	const struct tgt_cmd_desc *d = NULL;
	bool has_sa = false;
	uint8_t *p;
	size_t len = 0;
	unsigned i;

	if (opts == 0) {
		size_t per = 8 + (rctd ? 12 : 0);

		p = calloc(1, 4 + per * tgt_cmd_table_len);
		if (p == NULL) {
			tgt_cmd_errno(c, -ENOMEM, false);
			return;
		}
		len = 4;
		for (i = 0; i < tgt_cmd_table_len; i++) {
			d = &tgt_cmd_table[i];
			if (!tgt_desc_supported(d, c->lun))
				continue;
			p[len] = d->opcode;			/* OPERATION CODE */
			scsi_put16(p + len + 2,
				   (d->flags & TGT_CF_SA) ? d->sa : 0);
			p[len + 5] = (uint8_t)((rctd ? 0x02 : 0) | /* CTDP */
					       ((d->flags & TGT_CF_SA) ?
							0x01 : 0)); /* SERVACTV */
			scsi_put16(p + len + 6, d->cdb_len);	/* CDB LENGTH */
			len += 8;
			if (rctd)
				len += timeouts_desc(d, p + len);
		}
		scsi_put32(p, (uint32_t)(len - 4));	/* COMMAND DATA LENGTH */
		tgt_cmd_data_in(c, p, len, alloc);
		free(p);
		tgt_cmd_good(c);
		return;
	}
	if (opts > 3) {
		tgt_cmd_bad_cdb(c, 2, 2);
		return;
	}
	(void)tgt_table_lookup(req_op, 0, &has_sa);
	/* Options 001b name an opcode without service actions, 010b one
	 * with; the other way round is an invalid REPORTING OPTIONS. */
	if ((opts == 1 && has_sa) || (opts == 2 && !has_sa)) {
		tgt_cmd_bad_cdb(c, 2, 2);
		return;
	}
	if (has_sa && req_sa > 0x1f)
		d = NULL;
	else
		d = tgt_table_lookup(req_op, (uint8_t)req_sa, &has_sa);
	if (d != NULL && !tgt_desc_supported(d, c->lun))
		d = NULL;
	{
		uint8_t out[4 + 16 + 12];

		memset(out, 0, sizeof(out));
		if (d == NULL) {
			out[1] = 0x01;	/* SUPPORT: not supported */
			len = 4;
		} else {
			out[1] = (uint8_t)((rctd ? 0x80 : 0) | 0x03);
			scsi_put16(out + 2, d->cdb_len);	/* CDB SIZE */
			usage_data(d, out + 4);
			len = 4 + d->cdb_len;
			if (rctd)
				len += timeouts_desc(d, out + len);
		}
		tgt_cmd_data_in(c, out, len, alloc);
	}
	tgt_cmd_good(c);
}

/* ---- REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.36) ---- */

void tgt_h_rstmf(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool repd = cdb[2] & 0x80;
	uint8_t out[16];

	memset(out, 0, sizeof(out));
	/* ABORT TASK, ABORT TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET,
	 * TARGET RESET: what tgt_tmf and the front ends implement. */
	out[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02;
	if (repd)
		out[3] = 0x0c;	/* ADDITIONAL DATA LENGTH */
	tgt_cmd_data_in(c, out, repd ? 16 : 4, scsi_get32(cdb + 6));
	tgt_cmd_good(c);
}
