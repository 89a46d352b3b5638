package glob

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, pattern, reason string
	}{
		{"empty", "", "empty pattern"},
		{"unmatched open", "maps/{a,b", `unmatched "{"`},
		{"unmatched close", "maps/a}", `unmatched "}"`},
		{"close before open", "a}{b,c}", `unmatched "}"`},
		{"one alternative", "maps/{a}", `"{...}" needs at least two alternatives separated by ","`},
		{"double star in segment", "maps/a**", "** must be a whole path segment (use * within a segment)"},
		{"leading slash", "/maps/*", `starts with "/" (keys have no leading slash)`},
		{"leading slash in alternative", "{a,/b}/x", `alternative "/b/x": starts with "/" (keys have no leading slash)`},
		{"empty segment", "maps//x", "has an empty path segment"},
		{"backslash", `maps\x`, `backslash is not allowed (keys use "/")`},
		{"control character", "maps/\x01", "control or invalid character at offset 5"},
		{"invalid UTF-8", "ma\xffps", "control or invalid character at offset 2"},
		{"128 alternatives", "{0,1,2,3,4,5,6,7}{0,1,2,3,4,5,6,7}{a,b}", "more than 64 alternatives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tt.pattern, g)
			}
			var ge *Error
			if !errors.As(err, &ge) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if ge.Pattern != tt.pattern || ge.Reason != tt.reason {
				t.Errorf("Error{%q, %q}, want {%q, %q}", ge.Pattern, ge.Reason, tt.pattern, tt.reason)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "glob: bad pattern ") || !strings.HasSuffix(msg, ": "+tt.reason) {
				t.Errorf("error %q, want glob: bad pattern %q: %s", msg, tt.pattern, tt.reason)
			}
		})
	}
}

func TestCompileLimit(t *testing.T) {
	// 64 alternatives is the limit, not beyond it.
	g, err := Compile("{0,1,2,3,4,5,6,7}{0,1,2,3,4,5,6,7}")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(g.Alternatives()); n != 64 {
		t.Errorf("%d alternatives, want 64", n)
	}
}

func TestString(t *testing.T) {
	for _, p := range []string{"maps/**", "{a,b}/*.png", "**"} {
		g, err := Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		if g.String() != p {
			t.Errorf("String() = %q, want %q", g.String(), p)
		}
	}
}

func TestAlternatives(t *testing.T) {
	type seg struct {
		seg     string
		literal bool
	}
	tests := []struct {
		pattern string
		want    []seg
	}{
		{"maps/**", []seg{{"maps", true}}},
		{"maps", []seg{{"maps", true}}},
		{"**/x.png", []seg{{"**", false}}},
		{"m*/x", []seg{{"m*", false}}},
		{"?/x", []seg{{"?", false}}},
		{"{maps,tiles/a,*.png}", []seg{{"maps", true}, {"tiles", true}, {"*.png", false}}},
		{"{a,b}{c,d}/**", []seg{{"ac", true}, {"ad", true}, {"bc", true}, {"bd", true}}},
	}
	for _, tt := range tests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var got []seg
		for _, a := range g.Alternatives() {
			s, lit := a.FirstSegment()
			got = append(got, seg{s, lit})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: first segments %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestAltMatch(t *testing.T) {
	g, err := Compile("{maps/**,tiles/*.png}")
	if err != nil {
		t.Fatal(err)
	}
	alts := g.Alternatives()
	tests := []struct {
		key        string
		maps, pngs bool
	}{
		{"maps/a/b", true, false},
		{"tiles/a.png", false, true},
		{"tiles/a/b.png", false, false},
		{"other", false, false},
	}
	for _, tt := range tests {
		if got := alts[0].Match(tt.key); got != tt.maps {
			t.Errorf("maps/** Match(%q) = %v, want %v", tt.key, got, tt.maps)
		}
		if got := alts[1].Match(tt.key); got != tt.pngs {
			t.Errorf("tiles/*.png Match(%q) = %v, want %v", tt.key, got, tt.pngs)
		}
	}
}

func TestFirstSegment(t *testing.T) {
	tests := []struct{ key, want string }{
		{"", ""},
		{"maps", "maps"},
		{"maps/", "maps"},
		{"maps/a/b.png", "maps"},
		{"/a", ""},
	}
	for _, tt := range tests {
		if got := FirstSegment(tt.key); got != tt.want {
			t.Errorf("FirstSegment(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	// One pattern per matcher path: literal head, one "**" (head and tail),
	// several "**" (backtracking), single-star and general segments.
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"maps/**", "maps/a/b/c.png", true},
		{"a/*/c/**/*.{png,jpg}", "a/b/c/d/e/f.jpg", true},
		{"**/x/**/y/*a?c*", "p/x/q/r/y/zabcz", true},
		{"**/x/**/y/*a?c*", "p/x/q/r/y/zabz", false},
		{"*.png", "dir/a.png", false},
	}
	for _, tt := range tests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.Match(tt.key); got != tt.want {
			t.Fatalf("Match(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		if n := testing.AllocsPerRun(1000, func() { g.Match(tt.key) }); n != 0 {
			t.Errorf("Match(%q, %q): %v allocs, want 0", tt.pattern, tt.key, n)
		}
	}
}
