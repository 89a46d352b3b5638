package resize

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <vips/vips.h>
#include <vips/vector.h>
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
)

// Runtime is libvips' and the C allocator's process-wide configuration:
// threads per image operation, libvips' operation cache, and glibc's
// malloc arenas. It lives under images: in the config file beside
// Config's fields. The binary applies it once at startup
// (ApplyRuntime) before any image is processed; it is not reloaded.
type Runtime struct {
	// VipsConcurrency is the number of threads libvips runs one image
	// operation on. Default 1: the gateway already renders several images
	// at once (admission), and more threads per image add RSS, not
	// throughput. 0 = libvips' own default (one per CPU). An explicit
	// VIPS_CONCURRENCY in the environment wins, as it does for libvips.
	// 0–1024.
	VipsConcurrency int `yaml:"vips_concurrency"`
	// VipsCacheMaxOperations bounds libvips' operation cache, in
	// operations. Default 0 (off): the gateway caches rendered variants
	// above libvips (cache_bytes), and libvips' cache would keep the
	// decoded sources of requests that are never repeated. bimg, left
	// alone, sets 500. At least 0.
	VipsCacheMaxOperations int `yaml:"vips_cache_max_operations"`
	// VipsCacheMaxMem bounds the memory libvips' operation cache holds, in
	// bytes. Default 0 (off; bimg, left alone, sets 100 MiB). At least 0.
	VipsCacheMaxMem int64 `yaml:"vips_cache_max_mem"`
	// VipsCacheMaxFiles bounds the files libvips' operation cache keeps
	// open. Default 100, libvips' own. At least 0.
	VipsCacheMaxFiles int `yaml:"vips_cache_max_files"`
	// MallocArenaMax caps glibc's malloc arenas (mallopt M_ARENA_MAX):
	// libvips allocates from many threads, and glibc's default of up to 8
	// arenas per CPU lets RSS grow with every thread that ever rendered.
	// Default 2. 0 = glibc's default. MALLOC_ARENA_MAX or
	// glibc.malloc.arena_max in GLIBC_TUNABLES in the environment wins, as
	// it does for glibc. Linux with glibc only; ignored elsewhere. 0–1024.
	MallocArenaMax int `yaml:"malloc_arena_max"`
	// VipsVector lets libvips run SIMD code that liborc generates at run
	// time. Default false: with the operation cache off every render
	// compiles and frees its own orc programs, and under concurrent
	// renders this host's libvips 8.14.1 corrupted the heap about once per
	// 40 000 images with it on, never in the runs with it off, at the same
	// speed (BENCHMARKS.md, "The baseline crashed"). VIPS_NOVECTOR in the
	// environment wins, as it does for libvips.
	VipsVector bool `yaml:"vips_vector"`
}

// maxThreads is libvips' own ceiling on vips_concurrency (MAX_THREADS in
// threadpool.c); also used for malloc_arena_max.
const maxThreads = 1024

// DefaultRuntime returns the documented defaults: the settings the demo
// launcher measured RSS with (VIPS_CONCURRENCY=1, MALLOC_ARENA_MAX=2) and
// libvips' operation cache off.
func DefaultRuntime() Runtime {
	return Runtime{VipsConcurrency: 1, VipsCacheMaxOperations: 0, VipsCacheMaxMem: 0, VipsCacheMaxFiles: 100, MallocArenaMax: 2}
}

// Validate reports the first field out of range.
func (r Runtime) Validate() error {
	switch {
	case r.VipsConcurrency < 0 || r.VipsConcurrency > maxThreads:
		return fmt.Errorf("resize: vips_concurrency %d: want 0–%d threads (0: libvips' default, one per CPU)", r.VipsConcurrency, maxThreads)
	case r.VipsCacheMaxOperations < 0:
		return fmt.Errorf("resize: vips_cache_max_operations %d: want 0 (off) or more operations", r.VipsCacheMaxOperations)
	case r.VipsCacheMaxMem < 0:
		return fmt.Errorf("resize: vips_cache_max_mem %d: want 0 (off) or more bytes", r.VipsCacheMaxMem)
	case r.VipsCacheMaxFiles < 0:
		return fmt.Errorf("resize: vips_cache_max_files %d: want 0 or more files", r.VipsCacheMaxFiles)
	case r.MallocArenaMax < 0 || r.MallocArenaMax > maxThreads:
		return fmt.Errorf("resize: malloc_arena_max %d: want 0–%d arenas (0: glibc's default)", r.MallocArenaMax, maxThreads)
	}
	return nil
}

// RuntimeState is what libvips and the allocator report after
// ApplyRuntime: the values read back from libvips, and where each setting
// came from.
type RuntimeState struct {
	// LibvipsVersion is the version of the libvips library loaded.
	LibvipsVersion string
	// VipsConcurrency is libvips' vips_concurrency_get().
	VipsConcurrency int
	// VipsConcurrencyFrom is "config" or "env VIPS_CONCURRENCY".
	VipsConcurrencyFrom string
	// The operation cache's bounds, read back from libvips.
	VipsCacheMaxOperations int
	VipsCacheMaxMem        int64
	VipsCacheMaxFiles      int
	// MallocArenaMax is the value passed to mallopt(M_ARENA_MAX); 0 when
	// mallopt was not called (MallocArenaMaxFrom says why).
	MallocArenaMax int
	// MallocArenaMaxFrom is "config" (mallopt succeeded), "glibc default"
	// (malloc_arena_max: 0), "env MALLOC_ARENA_MAX", "env GLIBC_TUNABLES"
	// or "unsupported" (not glibc on Linux).
	MallocArenaMaxFrom string
	// VipsVector is libvips' vips_vector_isenabled(); VipsVectorFrom is
	// "config" or "env VIPS_NOVECTOR".
	VipsVector     bool
	VipsVectorFrom string
}

// ApplyRuntime validates r and applies it to the process: libvips'
// concurrency and operation cache, and glibc's arena cap. Settings the
// operator gave in the environment (VIPS_CONCURRENCY, MALLOC_ARENA_MAX,
// GLIBC_TUNABLES) are left as libvips and glibc read them. lookupEnv is
// os.LookupEnv outside tests. Process-wide: call it once, at startup,
// before images are processed (cmd/edgegate serve does).
func ApplyRuntime(r Runtime, lookupEnv func(string) (string, bool)) (RuntimeState, error) {
	if err := r.Validate(); err != nil {
		return RuntimeState{}, err
	}
	st := RuntimeState{VipsConcurrencyFrom: "config"}
	if v, ok := lookupEnv("VIPS_CONCURRENCY"); ok && v != "" {
		// libvips read it at vips_init; bimg left it alone.
		st.VipsConcurrencyFrom = "env VIPS_CONCURRENCY"
	} else {
		C.vips_concurrency_set(C.int(r.VipsConcurrency))
	}
	C.vips_cache_set_max(C.int(r.VipsCacheMaxOperations))
	C.vips_cache_set_max_mem(C.size_t(r.VipsCacheMaxMem))
	C.vips_cache_set_max_files(C.int(r.VipsCacheMaxFiles))
	st.VipsVectorFrom = "config"
	if _, ok := lookupEnv("VIPS_NOVECTOR"); ok {
		st.VipsVectorFrom = "env VIPS_NOVECTOR" // libvips read it at vips_init
	} else {
		setVector(r.VipsVector)
	}
	switch v, ok := lookupEnv("GLIBC_TUNABLES"); {
	case hasEnv(lookupEnv, "MALLOC_ARENA_MAX"):
		st.MallocArenaMaxFrom = "env MALLOC_ARENA_MAX"
	case ok && strings.Contains(v, "glibc.malloc.arena_max="):
		st.MallocArenaMaxFrom = "env GLIBC_TUNABLES"
	case r.MallocArenaMax == 0:
		st.MallocArenaMaxFrom = "glibc default"
	default:
		supported, err := setArenaMax(r.MallocArenaMax)
		if err != nil {
			return st, err
		}
		st.MallocArenaMaxFrom = "unsupported"
		if supported {
			st.MallocArenaMax, st.MallocArenaMaxFrom = r.MallocArenaMax, "config"
		}
	}
	st.readVips()
	return st, nil
}

// readVips fills in what libvips reports.
func (st *RuntimeState) readVips() {
	st.LibvipsVersion = LibvipsVersion()
	st.VipsConcurrency = int(C.vips_concurrency_get())
	st.VipsCacheMaxOperations = int(C.vips_cache_get_max())
	st.VipsCacheMaxMem = int64(C.vips_cache_get_max_mem())
	st.VipsCacheMaxFiles = int(C.vips_cache_get_max_files())
	st.VipsVector = C.vips_vector_isenabled() != 0
}

func setVector(on bool) {
	v := C.gboolean(0)
	if on {
		v = 1
	}
	C.vips_vector_set_enabled(v)
}

func hasEnv(lookupEnv func(string) (string, bool), name string) bool {
	v, ok := lookupEnv(name)
	return ok && v != ""
}

// LibvipsVersion returns the version of the libvips library loaded at run
// time (which may differ from the headers bimg was built against).
func LibvipsVersion() string {
	return C.GoString(C.vips_version_string())
}

// libvips' operation cache and liborc's generated code are off from the
// moment this package is imported, as Processor assumes: bimg's
// initialisation, which starts libvips, turns the cache on (500
// operations, 100 MiB), and libvips enables orc unless VIPS_NOVECTOR is
// set. ApplyRuntime sets both from configuration.
func init() {
	d := DefaultRuntime()
	C.vips_cache_set_max(C.int(d.VipsCacheMaxOperations))
	C.vips_cache_set_max_mem(C.size_t(d.VipsCacheMaxMem))
	if _, ok := os.LookupEnv("VIPS_NOVECTOR"); !ok {
		setVector(d.VipsVector)
	}
}
