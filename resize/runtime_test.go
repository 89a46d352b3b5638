package resize

import (
	"strings"
	"testing"
)

func env(kv ...string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1], true
			}
		}
		return "", false
	}
}

// Importing the package leaves libvips' operation cache off (bimg's
// initialisation turns it on at 500 operations / 100 MiB).
func TestOperationCacheOffOnImport(t *testing.T) {
	var st RuntimeState
	st.readVips()
	if st.VipsCacheMaxOperations != 0 || st.VipsCacheMaxMem != 0 {
		t.Fatalf("operation cache on import: %d operations, %d bytes; want 0, 0", st.VipsCacheMaxOperations, st.VipsCacheMaxMem)
	}
	if !strings.HasPrefix(st.LibvipsVersion, "8.") {
		t.Fatalf("libvips version %q", st.LibvipsVersion)
	}
}

func TestApplyRuntime(t *testing.T) {
	t.Cleanup(func() {
		if _, err := ApplyRuntime(DefaultRuntime(), env()); err != nil {
			t.Error(err)
		}
	})
	for _, tc := range []struct {
		name string
		r    Runtime
		env  []string
		want RuntimeState
	}{
		{"defaults", DefaultRuntime(), nil, RuntimeState{
			VipsConcurrency: 1, VipsConcurrencyFrom: "config", VipsCacheMaxFiles: 100,
			MallocArenaMax: 2, MallocArenaMaxFrom: "config", VipsVectorFrom: "config"}},
		{"from config", Runtime{VipsConcurrency: 3, VipsCacheMaxOperations: 50, VipsCacheMaxMem: 8 << 20, VipsCacheMaxFiles: 7, MallocArenaMax: 4, VipsVector: true}, nil,
			RuntimeState{VipsConcurrency: 3, VipsConcurrencyFrom: "config", VipsCacheMaxOperations: 50, VipsCacheMaxMem: 8 << 20,
				VipsCacheMaxFiles: 7, MallocArenaMax: 4, MallocArenaMaxFrom: "config", VipsVector: true, VipsVectorFrom: "config"}},
		// The operator's environment wins: libvips' concurrency is left
		// as it was (1, the defaults applied first; in the binary, what
		// libvips read from VIPS_CONCURRENCY), and mallopt is not called
		// over MALLOC_ARENA_MAX.
		{"environment wins", Runtime{VipsConcurrency: 5, MallocArenaMax: 4, VipsVector: true}, []string{"VIPS_CONCURRENCY", "1", "MALLOC_ARENA_MAX", "8", "VIPS_NOVECTOR", "1"},
			RuntimeState{VipsConcurrency: 1, VipsConcurrencyFrom: "env VIPS_CONCURRENCY", MallocArenaMaxFrom: "env MALLOC_ARENA_MAX",
				VipsVectorFrom: "env VIPS_NOVECTOR"}},
		{"tunables win", Runtime{VipsConcurrency: 1, MallocArenaMax: 4}, []string{"GLIBC_TUNABLES", "glibc.malloc.arena_max=3"},
			RuntimeState{VipsConcurrency: 1, VipsConcurrencyFrom: "config", MallocArenaMaxFrom: "env GLIBC_TUNABLES", VipsVectorFrom: "config"}},
		{"empty variables are unset", Runtime{VipsConcurrency: 2, MallocArenaMax: 0}, []string{"VIPS_CONCURRENCY", "", "MALLOC_ARENA_MAX", ""},
			RuntimeState{VipsConcurrency: 2, VipsConcurrencyFrom: "config", MallocArenaMaxFrom: "glibc default", VipsVectorFrom: "config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ApplyRuntime(DefaultRuntime(), env()); err != nil {
				t.Fatal(err)
			}
			got, err := ApplyRuntime(tc.r, env(tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if got.LibvipsVersion == "" {
				t.Error("no libvips version")
			}
			got.LibvipsVersion = ""
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRuntimeValidate(t *testing.T) {
	if err := DefaultRuntime().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    func(*Runtime)
		want string
	}{
		{func(r *Runtime) { r.VipsConcurrency = -1 }, "vips_concurrency -1: want 0–1024"},
		{func(r *Runtime) { r.VipsConcurrency = 1025 }, "vips_concurrency 1025"},
		{func(r *Runtime) { r.VipsCacheMaxOperations = -1 }, "vips_cache_max_operations -1"},
		{func(r *Runtime) { r.VipsCacheMaxMem = -1 }, "vips_cache_max_mem -1"},
		{func(r *Runtime) { r.VipsCacheMaxFiles = -1 }, "vips_cache_max_files -1"},
		{func(r *Runtime) { r.MallocArenaMax = -1 }, "malloc_arena_max -1: want 0–1024"},
		{func(r *Runtime) { r.MallocArenaMax = 4096 }, "malloc_arena_max 4096"},
	} {
		r := DefaultRuntime()
		tc.r(&r)
		err := r.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "resize: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", r, err, tc.want)
		}
		if _, aerr := ApplyRuntime(r, env()); aerr == nil {
			t.Errorf("%+v: ApplyRuntime applied an invalid runtime", r)
		}
	}
}
