package testregistry

import "syscall"

// tmpfsMinFree keeps storage off small tmpfs mounts such as Docker's 64 MiB
// default /dev/shm: there every stored file costs a 4 KiB page, some 24 KiB
// per pushed image.
const tmpfsMinFree = 1 << 30

// storageBase prefers /dev/shm for temporary storage. Distribution's
// filesystem driver creates about 6 files and 9 directories per pushed image,
// with fsyncs; on a disk filesystem those make bulk seeding about three
// times slower.
func storageBase() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Bavail*uint64(st.Bsize) >= tmpfsMinFree {
		return "/dev/shm"
	}
	return ""
}
