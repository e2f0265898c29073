/*
 * Direct-I/O alignment of an open file, from statx(STATX_DIOALIGN)
 * (Linux 6.1+).  Kept apart from file.c because it needs the kernel's
 * struct statx (glibc 2.36's lacks the dio fields), and <linux/stat.h>
 * cannot be included beside glibc's <sys/stat.h>.
 */
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bdev/bdev_int.h"

void file_dio_align(int fd, uint32_t *mem_align, uint32_t *off_align)
{
	struct statx stx = { 0 };

	*mem_align = 0;
	*off_align = 0;
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN,
		    &stx) != 0)
		return;
	if ((stx.stx_mask & STATX_DIOALIGN) == 0)
		return;
	*mem_align = stx.stx_dio_mem_align;
	*off_align = stx.stx_dio_offset_align;
}
