//go:build linux

package geo

import (
	"fmt"
	"os"
	"runtime"

	"github.com/oschwald/maxminddb-golang/v2"
	"golang.org/x/sys/unix"
)

// openReader reads path into anonymous memory backed by transparent huge
// pages where the kernel allows (madvise mode), instead of mapping the
// file: a GeoIP lookup is a walk of ~25 dependent reads at random places
// in a 100+ MB tree, and with 4 KiB pages most of them also miss the TLB.
// 2 MiB pages make a lookup cheaper (BenchmarkLookupDBIP/random-65536;
// figures in BENCHMARKS.md).
// The memory is released when the reader is garbage, like the library's
// own file mappings. Where huge pages cannot be had it still works, with
// small pages.
func openReader(path string) (*maxminddb.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int(fi.Size())
	if size <= 0 {
		return nil, fmt.Errorf("empty file")
	}
	const huge = 2 << 20
	buf, err := unix.Mmap(-1, 0, (size+huge-1)&^(huge-1), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return maxminddb.Open(path)
	}
	_ = unix.Madvise(buf, unix.MADV_HUGEPAGE) // advice only: small pages work too
	if _, err := readFull(f, buf[:size]); err != nil {
		unix.Munmap(buf)
		return nil, err
	}
	r, err := maxminddb.OpenBytes(buf[:size])
	if err != nil {
		unix.Munmap(buf)
		return nil, err
	}
	runtime.AddCleanup(r, func(b []byte) { unix.Munmap(b) }, buf)
	return r, nil
}

func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
