/*
 * vscsi-ramdisk: a minimal userland SCSI target for a vscsi SIM, written
 * against the public client library only (<scsikit/vscsi.h>).  It serves
 * one RAM disk as target 0, LUN 0 with just enough SPC/SBC for a bus scan
 * and block I/O: INQUIRY, REPORT LUNS, TEST UNIT READY, READ CAPACITY(10)
 * and (16), READ/WRITE(10) and (16), SYNCHRONIZE CACHE; everything else is
 * ILLEGAL REQUEST.
 *
 *   scsikit serve --vscsi /tmp/v.sock &
 *   vscsi-ramdisk /tmp/v.sock [SIZE_MIB]
 *
 * It shows the whole userland side: connect, REQPROBE, then a callback
 * loop in which each command is handed over (I2T), its data moved
 * (DATA_WRITE takes a write's data straight into the RAM disk, DATA_READ
 * supplies what a read returns) and finished (T2I).  Typing "detach" or
 * "probe" on stdin sends REQDETACH / REQPROBE for 0:0.  docs/vscsi.md
 * walks through running it and exporting its disk.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scsikit/scsi.h>
#include <scsikit/vscsi.h>

struct ramdisk {
	uint8_t *mem;
	uint64_t blocks;	/* of 512 bytes */
};

static void sense(struct vscsi_client *c, uint32_t tag, uint8_t key,
		  uint16_t asc_ascq)
{
	struct vscsi_t2i t = {.tag = tag, .status = VSCSI_STAT_SENSE};

	t.sense_len = (uint8_t)scsi_sense_build_simple(key, asc_ascq, false,
						       t.sense,
						       sizeof(t.sense));
	vscsi_t2i(c, &t);
}

static void done(struct vscsi_client *c, uint32_t tag)
{
	struct vscsi_t2i t = {.tag = tag, .status = VSCSI_STAT_DONE};

	vscsi_t2i(c, &t);
}

/* Send up to alloc bytes of buf as the command's data, then GOOD. */
static void reply(struct vscsi_client *c, const struct vscsi_i2t *cmd,
		  const void *buf, size_t len)
{
	if (len > cmd->data_len)
		len = cmd->data_len;
	if (len && vscsi_data_read(c, cmd->tag, buf, len) < 0) {
		sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2400);
		return;
	}
	done(c, cmd->tag);
}

static void rw(struct ramdisk *rd, struct vscsi_client *c,
	       const struct vscsi_i2t *cmd, uint64_t lba, uint32_t n,
	       bool write)
{
	uint64_t off = lba * 512, len = (uint64_t)n * 512;

	if (lba > rd->blocks || n > rd->blocks - lba) {
		sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2100);
		return;
	}
	if (len > cmd->data_len)
		len = cmd->data_len;	/* the residual says the rest */
	if (write ? vscsi_data_write(c, cmd->tag, rd->mem + off, len)
		  : vscsi_data_read(c, cmd->tag, rd->mem + off, len)) {
		sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2400);
		return;
	}
	done(c, cmd->tag);
}

static void command(struct vscsi_client *c, const struct vscsi_i2t *cmd,
		    void *arg)
{
	struct ramdisk *rd = arg;
	const uint8_t *cdb = cmd->cdb;
	uint8_t buf[64];

	if (cmd->target != 0) {
		struct vscsi_t2i t = {.tag = cmd->tag,
				      .status = VSCSI_STAT_SELTIMEOUT};

		vscsi_t2i(c, &t);
		return;
	}
	if (cmd->lun != 0 && cdb[0] != SCSI_INQUIRY &&
	    cdb[0] != SCSI_REPORT_LUNS) {
		sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2500);
		return;
	}
	memset(buf, 0, sizeof(buf));
	switch (cdb[0]) {
	case SCSI_INQUIRY:
		if (cdb[1] & 1) {	/* no VPD pages here */
			sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2400);
			return;
		}
		buf[0] = cmd->lun == 0 ? 0x00 : 0x7f; /* disk / no LUN */
		buf[2] = 0x05;		/* SPC-3 */
		buf[3] = 0x02;		/* response data format */
		buf[4] = 31;
		buf[7] = 0x02;		/* CMDQUE */
		memcpy(buf + 8, "EXAMPLE ", 8);
		memcpy(buf + 16, "VSCSI RAMDISK   ", 16);
		memcpy(buf + 32, "0001", 4);
		reply(c, cmd, buf, 36);
		return;
	case SCSI_REPORT_LUNS:
		scsi_put32(buf, 8);	/* one LUN: 0 */
		reply(c, cmd, buf, 16);
		return;
	case 0x00:			/* TEST UNIT READY */
	case 0x35:			/* SYNCHRONIZE CACHE(10) */
	case 0x91:			/* SYNCHRONIZE CACHE(16) */
		done(c, cmd->tag);
		return;
	case 0x25:			/* READ CAPACITY(10) */
		scsi_put32(buf, (uint32_t)(rd->blocks - 1));
		scsi_put32(buf + 4, 512);
		reply(c, cmd, buf, 8);
		return;
	case 0x9e:			/* READ CAPACITY(16) */
		if ((cdb[1] & 0x1f) != 0x10)
			break;
		scsi_put32(buf, (uint32_t)((rd->blocks - 1) >> 32));
		scsi_put32(buf + 4, (uint32_t)(rd->blocks - 1));
		scsi_put32(buf + 8, 512);
		reply(c, cmd, buf, 32);
		return;
	case 0x28:			/* READ(10) */
	case 0x2a:			/* WRITE(10) */
		rw(rd, c, cmd, scsi_get32(cdb + 2),
		   (uint32_t)(cdb[7] << 8 | cdb[8]), cdb[0] == 0x2a);
		return;
	case 0x88:			/* READ(16) */
	case 0x8a:			/* WRITE(16) */
		rw(rd, c, cmd,
		   (uint64_t)scsi_get32(cdb + 2) << 32 | scsi_get32(cdb + 6),
		   scsi_get32(cdb + 10), cdb[0] == 0x8a);
		return;
	default:
		break;
	}
	sense(c, cmd->tag, SCSI_SK_ILLEGAL_REQUEST, 0x2000);
}

static void event(struct vscsi_client *c, enum vscsi_event ev,
		  uint32_t target, uint64_t lun, void *arg)
{
	(void)c;
	(void)arg;
	printf("vscsi-ramdisk: the bus %s %u:%llu\n",
	       ev == VSCSI_EV_FOUND ? "found"
	       : ev == VSCSI_EV_LOST ? "lost"
				      : "reset",
	       target, (unsigned long long)lun);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const struct vscsi_handler h = {.command = command, .event = event};
	struct ramdisk rd;
	struct vscsi_client *c;
	unsigned long mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
	int rc;

	if (argc < 2 || mib == 0) {
		fprintf(stderr, "usage: %s SOCKET [SIZE_MIB]\n", argv[0]);
		return 2;
	}
	rd.blocks = (uint64_t)mib * 2048;
	rd.mem = calloc(rd.blocks, 512);
	if (!rd.mem)
		return 1;
	rc = vscsi_client_open(argv[1], &c);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-rc));
		free(rd.mem);
		return 1;
	}
	vscsi_client_set_handler(c, &h, &rd);
	rc = vscsi_reqprobe(c, 0, 0);
	if (rc < 0)
		fprintf(stderr, "REQPROBE: %s\n", strerror(-rc));
	printf("vscsi-ramdisk: %lu MiB at 0:0 on %s\n", mib,
	       vscsi_client_info(c)->name);
	fflush(stdout);
	/* The library's loop plus stdin: poll both, dispatch commands. */
	bool input = true;

	for (;;) {
		struct pollfd p[2] = {{vscsi_client_fd(c), POLLIN, 0},
				      {input ? 0 : -1, POLLIN, 0}};

		rc = vscsi_client_dispatch(c);
		if (rc < 0)
			break;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN) {
			char line[64];

			if (!fgets(line, sizeof(line), stdin)) {
				input = false;
				continue;
			}
			if (!strncmp(line, "detach", 6))
				rc = vscsi_reqdetach(c, 0, 0);
			else if (!strncmp(line, "probe", 5))
				rc = vscsi_reqprobe(c, 0, 0);
			else if (!strncmp(line, "quit", 4))
				break;
			if (rc < 0)
				fprintf(stderr, "request: %s\n", strerror(-rc));
		}
	}
	if (rc < 0)
		fprintf(stderr, "vscsi-ramdisk: %s\n", strerror(-rc));
	vscsi_client_close(c);
	free(rd.mem);
	return rc < 0 ? 1 : 0;
}
