package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
		ok        bool
	}{
		{"map-tiles.zip", "map-tiles.zip", true},
		{"a/b/c.txt", "a/b/c.txt", true},
		{"a+b%20c", "a+b c", true}, // '+' is literal in a path
		{"%C3%A9t%C3%A9.jpg", "été.jpg", true},
		{"a..b/c", "a..b/c", true}, // ".." inside a name is fine
		{"", "", false},
		{"/abs", "", false},
		{"a/../b", "", false},
		{"./a", "", false},
		{"a//b", "", false},
		{"a/", "", false},
		{"a\\b", "", false},
		{"a%00b", "", false},
		{"a%7fb", "", false},
		{"%", "", false},
		{"%4", "", false},
		{"%g0", "", false},
		{strings.Repeat("k", MaxKeyLen), strings.Repeat("k", MaxKeyLen), true},
		{strings.Repeat("k", MaxKeyLen+1), "", false},
	} {
		got, err := parseKey([]byte(tc.raw))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseKey(%q) = %q, %v; want %q, ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
		if err != nil && err.Status != 400 {
			t.Errorf("parseKey(%q): status %d, want 400", tc.raw, err.Status)
		}
	}
}

// FuzzParseKey: never panics, and whatever it accepts is a safe key.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"a/b", "a/../b", "%2e%2e/x", "%", "a%5Cb", "é", "a//b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		key, err := parseKey(raw)
		if err != nil {
			return
		}
		if key == "" || len(key) > MaxKeyLen || key[0] == '/' || strings.ContainsAny(key, "\\\x00") || !utf8.ValidString(key) {
			t.Fatalf("accepted unsafe key %q from %q", key, raw)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("accepted key %q with segment %q", key, seg)
			}
		}
	})
}
