package accesslog

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc-123", true},
		{"0af7651916cd43dd8448eb211c80319c", true},
		{"Root=1-67891233-abcdef012345678912345678", true},
		{"f81d4fae-7dec-11d0-a765-00a0c91e6bf6", true},
		{"", false},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"quote\"", false},
		{"newline\n", false},
		{"é", false},
		{"<script>", false},
	} {
		if got := ValidID([]byte(tc.id)); got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestTraceID(t *testing.T) {
	for _, tc := range []struct{ tp, want string }{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", ""}, // version 00 has nothing after
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", ""},
		{"", ""},
	} {
		got, ok := TraceID([]byte(tc.tp))
		if string(got) != tc.want || ok != (tc.want != "") {
			t.Errorf("TraceID(%q) = %q, %v; want %q", tc.tp, got, ok, tc.want)
		}
	}
}

// traceparentRE is the W3C grammar, as a reference for the fuzz test.
var traceparentRE = regexp.MustCompile(`^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$`)

func FuzzTraceID(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, tp string) {
		got, ok := TraceID([]byte(tp))
		m := traceparentRE.FindStringSubmatch(tp)
		want := m != nil && m[1] != "ff" && !(m[1] == "00" && m[5] != "") &&
			strings.Trim(m[2], "0") != "" && strings.Trim(m[3], "0") != ""
		if ok != want {
			t.Fatalf("TraceID(%q) ok = %v, reference says %v", tp, ok, want)
		}
		if ok && string(got) != m[2] {
			t.Fatalf("TraceID(%q) = %q, want %q", tp, got, m[2])
		}
		if ok && !ValidID(got) {
			t.Fatalf("a trace id %q must be a valid request id", got)
		}
	})
}

func FuzzValidID(f *testing.F) {
	f.Add("abc-123")
	f.Add("a b")
	f.Fuzz(func(t *testing.T, id string) {
		if ValidID([]byte(id)) != regexp.MustCompile(`^[A-Za-z0-9_.:@+=/-]{1,64}$`).MatchString(id) {
			t.Fatalf("ValidID(%q) disagrees with its grammar", id)
		}
	})
}

func TestGeneratedIDsAreUniqueAndValid(t *testing.T) {
	g := NewIDs()
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for range 1000 {
				buf = g.Append(buf[:0])
				id := string(buf)
				if len(id) != 32 || !ValidID(buf) {
					t.Errorf("bad id %q", id)
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate id %q", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if other := NewIDs().Append(nil); seen[string(other)] || string(other[:16]) == string(g.prefix[:]) {
		t.Errorf("a second generator repeats the first's prefix: %q", other)
	}
	buf := make([]byte, 0, 32)
	if a := testing.AllocsPerRun(100, func() { buf = g.Append(buf[:0]) }); a != 0 {
		t.Errorf("%v allocations", a)
	}
}
