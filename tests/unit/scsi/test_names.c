/*
 * Unit tests for the name tables: opcodes (with service actions), ASC/ASCQ,
 * sense keys and status codes, known and unknown values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/scsi.h>

#include "scsi/scsi_int.h"

static const struct {
	uint8_t op;
	uint16_t sa;
	const char *want;
} opcode_cases[] = {
	/* Every opcode of enum scsi_opcode */
	{ SCSI_TEST_UNIT_READY, 0, "TEST UNIT READY" },
	{ SCSI_REZERO_UNIT, 0, "REZERO UNIT" },
	{ SCSI_REQUEST_SENSE, 0, "REQUEST SENSE" },
	{ SCSI_FORMAT_UNIT, 0, "FORMAT UNIT" },
	{ SCSI_READ_6, 0, "READ(6)" },
	{ SCSI_WRITE_6, 0, "WRITE(6)" },
	{ SCSI_INQUIRY, 0, "INQUIRY" },
	{ SCSI_MODE_SELECT_6, 0, "MODE SELECT(6)" },
	{ SCSI_RESERVE_6, 0, "RESERVE(6)" },
	{ SCSI_RELEASE_6, 0, "RELEASE(6)" },
	{ SCSI_MODE_SENSE_6, 0, "MODE SENSE(6)" },
	{ SCSI_START_STOP_UNIT, 0, "START STOP UNIT" },
	{ SCSI_RECEIVE_DIAGNOSTIC, 0, "RECEIVE DIAGNOSTIC RESULTS" },
	{ SCSI_SEND_DIAGNOSTIC, 0, "SEND DIAGNOSTIC" },
	{ SCSI_PREVENT_ALLOW, 0, "PREVENT ALLOW MEDIUM REMOVAL" },
	{ SCSI_READ_CAPACITY_10, 0, "READ CAPACITY(10)" },
	{ SCSI_READ_10, 0, "READ(10)" },
	{ SCSI_WRITE_10, 0, "WRITE(10)" },
	{ SCSI_WRITE_VERIFY_10, 0, "WRITE AND VERIFY(10)" },
	{ SCSI_VERIFY_10, 0, "VERIFY(10)" },
	{ SCSI_PREFETCH_10, 0, "PRE-FETCH(10)" },
	{ SCSI_SYNCHRONIZE_CACHE_10, 0, "SYNCHRONIZE CACHE(10)" },
	{ SCSI_READ_DEFECT_DATA_10, 0, "READ DEFECT DATA(10)" },
	{ SCSI_WRITE_BUFFER, 0, "WRITE BUFFER" },
	{ SCSI_READ_BUFFER, 0, "READ BUFFER(10)" },
	{ SCSI_WRITE_SAME_10, 0, "WRITE SAME(10)" },
	{ SCSI_UNMAP, 0, "UNMAP" },
	{ SCSI_READ_TOC, 0, "READ TOC/PMA/ATIP" },
	{ SCSI_LOG_SELECT, 0, "LOG SELECT" },
	{ SCSI_LOG_SENSE, 0, "LOG SENSE" },
	{ SCSI_MODE_SELECT_10, 0, "MODE SELECT(10)" },
	{ SCSI_RESERVE_10, 0, "RESERVE(10)" },
	{ SCSI_RELEASE_10, 0, "RELEASE(10)" },
	{ SCSI_MODE_SENSE_10, 0, "MODE SENSE(10)" },
	{ SCSI_PERSISTENT_RESERVE_IN, 0, "PERSISTENT RESERVE IN" },
	{ SCSI_PERSISTENT_RESERVE_OUT, 0, "PERSISTENT RESERVE OUT" },
	{ SCSI_EXTENDED_COPY, 0, "EXTENDED COPY(LID1)" },
	{ SCSI_RECEIVE_COPY_RESULTS, 0, "RECEIVE COPY STATUS(LID1)" },
	{ SCSI_ATA_PASSTHROUGH_16, 0, "ATA PASS-THROUGH(16)" },
	{ SCSI_READ_16, 0, "READ(16)" },
	{ SCSI_COMPARE_AND_WRITE, 0, "COMPARE AND WRITE" },
	{ SCSI_WRITE_16, 0, "WRITE(16)" },
	{ SCSI_ORWRITE_16, 0, "ORWRITE(16)" },
	{ SCSI_WRITE_VERIFY_16, 0, "WRITE AND VERIFY(16)" },
	{ SCSI_VERIFY_16, 0, "VERIFY(16)" },
	{ SCSI_PREFETCH_16, 0, "PRE-FETCH(16)" },
	{ SCSI_SYNCHRONIZE_CACHE_16, 0, "SYNCHRONIZE CACHE(16)" },
	{ SCSI_WRITE_SAME_16, 0, "WRITE SAME(16)" },
	{ SCSI_WRITE_ATOMIC_16, 0, "WRITE ATOMIC(16)" },
	{ SCSI_REPORT_LUNS, 0, "REPORT LUNS" },
	{ SCSI_ATA_PASSTHROUGH_12, 0, "ATA PASS-THROUGH(12)" },
	{ SCSI_SECURITY_PROTOCOL_IN, 0, "SECURITY PROTOCOL IN" },
	{ SCSI_READ_12, 0, "READ(12)" },
	{ SCSI_WRITE_12, 0, "WRITE(12)" },
	{ SCSI_WRITE_VERIFY_12, 0, "WRITE AND VERIFY(12)" },
	{ SCSI_VERIFY_12, 0, "VERIFY(12)" },
	{ SCSI_SECURITY_PROTOCOL_OUT, 0, "SECURITY PROTOCOL OUT" },
	/* Service actions declared in the header */
	{ 0x9e, SCSI_SAI_READ_CAPACITY_16, "READ CAPACITY(16)" },
	{ 0x9e, SCSI_SAI_GET_LBA_STATUS, "GET LBA STATUS" },
	{ 0xa3, SCSI_MI_REPORT_SUPPORTED_OPCODES,
	  "REPORT SUPPORTED OPERATION CODES" },
	{ 0xa3, SCSI_MI_REPORT_SUPPORTED_TMFS,
	  "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS" },
	{ 0xa3, SCSI_MI_REPORT_TARGET_PORT_GROUPS, "REPORT TARGET PORT GROUPS" },
	{ 0xa3, SCSI_MI_REPORT_TIMESTAMP, "REPORT TIMESTAMP" },
	{ 0x7f, SCSI_VL_READ_32, "READ(32)" },
	{ 0x7f, SCSI_VL_VERIFY_32, "VERIFY(32)" },
	{ 0x7f, SCSI_VL_WRITE_32, "WRITE(32)" },
	{ 0x7f, SCSI_VL_WRITE_VERIFY_32, "WRITE AND VERIFY(32)" },
	{ 0x7f, SCSI_VL_WRITE_SAME_32, "WRITE SAME(32)" },
	/* Other service actions */
	{ 0x9e, 0x11, "READ LONG(16)" },
	{ 0x9f, 0x11, "WRITE LONG(16)" },
	{ 0xa4, 0x0a, "SET TARGET PORT GROUPS" },
	{ 0xa4, 0x0f, "SET TIMESTAMP" },
	{ 0x83, 0x11, "WRITE USING TOKEN" },
	{ 0x84, 0x03, "RECEIVE COPY OPERATING PARAMETERS" },
	{ 0xab, 0x01, "READ MEDIA SERIAL NUMBER" },
	{ 0xab, 0x02, "SERVICE ACTION IN(12)" },
	{ 0x7f, 0x0004, "XDWRITE(32)" },
	{ 0x9f, 0x12, "WRITE SCATTERED(16)" },
	/* Unknown service actions fall back to the opcode's generic name */
	{ 0x9e, 0x1f, "SERVICE ACTION IN(16)" },
	{ 0x9f, 0x00, "SERVICE ACTION OUT(16)" },
	{ 0xa3, 0x00, "MAINTENANCE IN" },
	{ 0xa4, 0x1f, "MAINTENANCE OUT" },
	{ 0x7f, 0x1234, "VARIABLE LENGTH CDB" },
	/* The service action is ignored for opcodes without one */
	{ SCSI_READ_10, 0x10, "READ(10)" },
	{ SCSI_INQUIRY, 0xffff, "INQUIRY" },
	/* Unknown opcodes */
	{ 0x02, 0, "UNKNOWN" },
	{ 0x29, 0, "UNKNOWN" },
	{ 0xc0, 0, "UNKNOWN" },
	{ 0xff, 0x10, "UNKNOWN" },
};

static void test_opcode_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(opcode_cases) / sizeof(opcode_cases[0]); i++) {
		const char *got = scsi_opcode_name(opcode_cases[i].op,
						   opcode_cases[i].sa);

		assert_non_null(got);
		if (strcmp(got, opcode_cases[i].want) != 0)
			fail_msg("0x%02x/0x%x: \"%s\", want \"%s\"",
				 opcode_cases[i].op, opcode_cases[i].sa, got,
				 opcode_cases[i].want);
	}
	/* Never NULL, for every value. */
	for (unsigned op = 0; op < 256; op++)
		assert_non_null(scsi_opcode_name((uint8_t)op, 0x10));
}

static const struct {
	uint16_t asc;
	const char *want; /* NULL: not in the table */
} asc_cases[] = {
	/* Every SCSI_ASC_* macro of the header */
	{ SCSI_ASC_NO_ADDITIONAL_SENSE, "NO ADDITIONAL SENSE INFORMATION" },
	{ SCSI_ASC_LUN_NOT_READY_CAUSE_NOT_REPORTABLE,
	  "LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE" },
	{ SCSI_ASC_LUN_NOT_READY_INIT_REQUIRED,
	  "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED" },
	{ SCSI_ASC_LUN_NOT_READY_MANUAL_INTERVENTION,
	  "LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED" },
	{ SCSI_ASC_LUN_COMMUNICATION_FAILURE,
	  "LOGICAL UNIT COMMUNICATION FAILURE" },
	{ SCSI_ASC_WRITE_ERROR, "WRITE ERROR" },
	{ SCSI_ASC_UNRECOVERED_READ_ERROR, "UNRECOVERED READ ERROR" },
	{ SCSI_ASC_MISCOMPARE_DURING_VERIFY,
	  "MISCOMPARE DURING VERIFY OPERATION" },
	{ SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, "PARAMETER LIST LENGTH ERROR" },
	{ SCSI_ASC_INVALID_COMMAND_OPCODE, "INVALID COMMAND OPERATION CODE" },
	{ SCSI_ASC_LBA_OUT_OF_RANGE, "LOGICAL BLOCK ADDRESS OUT OF RANGE" },
	{ SCSI_ASC_INVALID_FIELD_IN_CDB, "INVALID FIELD IN CDB" },
	{ SCSI_ASC_LUN_NOT_SUPPORTED, "LOGICAL UNIT NOT SUPPORTED" },
	{ SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  "INVALID FIELD IN PARAMETER LIST" },
	{ SCSI_ASC_PARAMETER_NOT_SUPPORTED, "PARAMETER NOT SUPPORTED" },
	{ SCSI_ASC_PARAMETER_VALUE_INVALID, "PARAMETER VALUE INVALID" },
	{ SCSI_ASC_WRITE_PROTECTED, "WRITE PROTECTED" },
	{ SCSI_ASC_POWER_ON_RESET,
	  "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED" },
	{ SCSI_ASC_POWER_ON_OCCURRED, "POWER ON OCCURRED" },
	{ SCSI_ASC_BUS_RESET_OCCURRED, "SCSI BUS RESET OCCURRED" },
	{ SCSI_ASC_BUS_DEVICE_RESET_OCCURRED,
	  "BUS DEVICE RESET FUNCTION OCCURRED" },
	{ SCSI_ASC_I_T_NEXUS_LOSS_OCCURRED, "I_T NEXUS LOSS OCCURRED" },
	{ SCSI_ASC_PARAMETERS_CHANGED, "PARAMETERS CHANGED" },
	{ SCSI_ASC_MODE_PARAMETERS_CHANGED, "MODE PARAMETERS CHANGED" },
	{ SCSI_ASC_RESERVATIONS_PREEMPTED, "RESERVATIONS PREEMPTED" },
	{ SCSI_ASC_RESERVATIONS_RELEASED, "RESERVATIONS RELEASED" },
	{ SCSI_ASC_REGISTRATIONS_PREEMPTED, "REGISTRATIONS PREEMPTED" },
	{ SCSI_ASC_CAPACITY_DATA_CHANGED, "CAPACITY DATA HAS CHANGED" },
	{ SCSI_ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
	  "COMMANDS CLEARED BY ANOTHER INITIATOR" },
	{ SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED,
	  "SAVING PARAMETERS NOT SUPPORTED" },
	{ SCSI_ASC_MEDIUM_NOT_PRESENT, "MEDIUM NOT PRESENT" },
	{ SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
	  "REPORTED LUNS DATA HAS CHANGED" },
	{ SCSI_ASC_INTERNAL_TARGET_FAILURE, "INTERNAL TARGET FAILURE" },
	{ SCSI_ASC_INVALID_MESSAGE_ERROR, "INVALID MESSAGE ERROR" },
	{ SCSI_ASC_COMMAND_PHASE_ERROR, "COMMAND PHASE ERROR" },
	{ SCSI_ASC_DATA_PHASE_ERROR, "DATA PHASE ERROR" },
	{ SCSI_ASC_OVERLAPPED_COMMANDS, "OVERLAPPED COMMANDS ATTEMPTED" },
	{ SCSI_ASC_MEDIUM_REMOVAL_PREVENTED, "MEDIUM REMOVAL PREVENTED" },
	{ SCSI_ASC_INITIATOR_RESPONSE_TIMEOUT, "INITIATOR RESPONSE TIMEOUT" },
	/* Some others, first and last of the table included */
	{ SCSI_ASC(0x04, 0x0a),
	  "LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION" },
	{ SCSI_ASC(0x10, 0x01), "LOGICAL BLOCK GUARD CHECK FAILED" },
	{ SCSI_ASC(0x1d, 0x01), "MISCOMPARE VERIFY OF UNMAPPED LBA" },
	{ SCSI_ASC(0x27, 0x07), "SPACE ALLOCATION FAILED WRITE PROTECT" },
	{ SCSI_ASC(0x38, 0x07), "THIN PROVISIONING SOFT THRESHOLD REACHED" },
	{ SCSI_ASC(0x55, 0x03), "INSUFFICIENT RESOURCES" },
	{ SCSI_ASC(0x5d, 0xff), "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)" },
	{ SCSI_ASC(0x74, 0x79), "SECURITY CONFLICT IN TRANSLATED DEVICE" },
	/* Range entries */
	{ SCSI_ASC(0x40, 0x80), "DIAGNOSTIC FAILURE ON COMPONENT NN" },
	{ SCSI_ASC(0x40, 0xff), "DIAGNOSTIC FAILURE ON COMPONENT NN" },
	{ SCSI_ASC(0x40, 0x00), "RAM FAILURE (SHOULD USE 40 NN)" },
	{ SCSI_ASC(0x4d, 0x00), "TAGGED OVERLAPPED COMMANDS (NN = TASK TAG)" },
	{ SCSI_ASC(0x4d, 0xff), "TAGGED OVERLAPPED COMMANDS (NN = TASK TAG)" },
	/* Not in the table */
	{ SCSI_ASC(0x40, 0x01), NULL },
	{ SCSI_ASC(0x24, 0x7f), NULL },
	{ SCSI_ASC(0x0f, 0x00), NULL },
	{ SCSI_ASC(0x80, 0x00), NULL },
	{ SCSI_ASC(0xff, 0xff), NULL },
	{ SCSI_ASC(0x74, 0x7a), NULL },
};

static void test_asc_names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(asc_cases) / sizeof(asc_cases[0]); i++) {
		const char *got = scsi_asc_name(asc_cases[i].asc);
		const char *want = asc_cases[i].want;

		if (want == NULL && got != NULL)
			fail_msg("0x%04x: \"%s\", want NULL", asc_cases[i].asc,
				 got);
		if (want != NULL && (got == NULL || strcmp(got, want) != 0))
			fail_msg("0x%04x: \"%s\", want \"%s\"",
				 asc_cases[i].asc, got ? got : "(null)", want);
	}
}

/* The table is binary-searched: it must be strictly sorted, and every
 * entry must be findable. */
static void test_asc_table_sorted(void **state)
{
	size_t n = scsi_asc_table_check();
	unsigned found = 0;

	(void)state;
	assert_true(n >= 300);
	for (unsigned v = 0; v <= 0xffff; v++) {
		uint8_t asc = (uint8_t)(v >> 8), ascq = (uint8_t)v;
		const char *name = scsi_asc_name((uint16_t)v);

		if (name == NULL)
			continue;
		/* Range entries are not in the sorted table. */
		if ((asc == 0x40 && ascq >= 0x80) || asc == 0x4d || asc == 0x70)
			continue;
		found++;
		/* Vendor-specific ASCs (0x80 and up) are never named. */
		assert_true(asc < 0x80);
	}
	assert_int_equal(found, n);
}

static void test_sense_key_names(void **state)
{
	static const char *const want[16] = {
		"NO SENSE",	   "RECOVERED ERROR", "NOT READY",
		"MEDIUM ERROR",	   "HARDWARE ERROR",  "ILLEGAL REQUEST",
		"UNIT ATTENTION",  "DATA PROTECT",    "BLANK CHECK",
		"VENDOR SPECIFIC", "COPY ABORTED",    "ABORTED COMMAND",
		"EQUAL",	   "VOLUME OVERFLOW", "MISCOMPARE",
		"COMPLETED",
	};

	(void)state;
	for (unsigned k = 0; k < 16; k++)
		assert_string_equal(scsi_sense_key_name((uint8_t)k), want[k]);
	assert_string_equal(scsi_sense_key_name(SCSI_SK_ILLEGAL_REQUEST),
			    "ILLEGAL REQUEST");
	assert_string_equal(scsi_sense_key_name(0x10), "UNKNOWN");
	assert_string_equal(scsi_sense_key_name(0xff), "UNKNOWN");
}

static void test_status_names(void **state)
{
	static const struct {
		uint8_t st;
		const char *want;
	} cases[] = {
		{ SCSI_STATUS_GOOD, "GOOD" },
		{ SCSI_STATUS_CHECK_CONDITION, "CHECK CONDITION" },
		{ SCSI_STATUS_CONDITION_MET, "CONDITION MET" },
		{ SCSI_STATUS_BUSY, "BUSY" },
		{ SCSI_STATUS_RESERVATION_CONFLICT, "RESERVATION CONFLICT" },
		{ SCSI_STATUS_TASK_SET_FULL, "TASK SET FULL" },
		{ SCSI_STATUS_ACA_ACTIVE, "ACA ACTIVE" },
		{ SCSI_STATUS_TASK_ABORTED, "TASK ABORTED" },
		{ 0x01, "UNKNOWN" },
		{ 0x03, "UNKNOWN" },
		{ 0xff, "UNKNOWN" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(scsi_status_name(cases[i].st),
				    cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opcode_names),
		cmocka_unit_test(test_asc_names),
		cmocka_unit_test(test_asc_table_sorted),
		cmocka_unit_test(test_sense_key_names),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
