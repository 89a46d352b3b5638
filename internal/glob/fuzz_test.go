package glob

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGlob compares the compiled matcher against a slow, obviously correct
// recursive reference.
func FuzzGlob(f *testing.F) {
	seeds := [][2]string{
		{"maps/**", "maps/a/b"}, {"**/x.png", "x.png"}, {"**/x.png", "a/b/x.png"},
		{"{a,b}/*.png", "b/c.png"}, {"a/*/c", "a/b/c"}, {"a/**/c", "a/c"},
		{"?/x", "é/x"}, {"*a*a*", "banana"}, {"**/**/a", "a"}, {"a/**", "a"},
		{"{a,{b,c}d}/**/*.{x,y}", "cd/q/r.y"}, {"**", ""}, {"a*/", "ab/"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, key string) {
		if len(pattern) > 64 || len(key) > 64 {
			return
		}
		g, err := Compile(pattern)
		if err != nil {
			return
		}
		got := g.Match(key)
		if want := refGlob(pattern, key); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, key, got, want)
		}
		// What an index by first segment (rules.Table.Route) relies on: an
		// alternative with a literal first segment matches only keys with
		// that first segment, and the Glob matches iff an alternative does.
		some := false
		for i, a := range g.Alternatives() {
			if !a.Match(key) {
				continue
			}
			some = true
			if seg, lit := a.FirstSegment(); lit && seg != FirstSegment(key) {
				t.Fatalf("%q: alternative %d (first segment %q) matches %q, whose first segment is %q",
					pattern, i, seg, key, FirstSegment(key))
			}
		}
		if some != got {
			t.Fatalf("Match(%q, %q) = %v, but some alternative matches = %v", pattern, key, got, some)
		}
	})
}

func TestGlobReference(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"maps/**", "maps/a", true},
		{"maps/**", "maps/a/b", true},
		{"maps/**", "maps", true},
		{"maps/**", "mapsx/a", false},
		{"**/x.png", "x.png", true},
		{"**/x.png", "a/b/x.png", true},
		{"**/x.png", "a/bx.png", false},
		{"a/*/c", "a/b/b/c", false},
		{"a/*", "a/", true},
		{"a/?", "a/é", true},
		{"a/?", "a/ab", false},
		{"{maps,tiles}/**", "tiles/x", true},
		{"{maps,tiles}/**", "other/x", false},
		{"a/**/b/**/c", "a/x/b/y/z/c", true},
		{"a/**/b/**/c", "a/x/c", false},
		{"*.png", "dir/a.png", false},
	}
	for _, tt := range tests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.pattern, err)
		}
		if got := g.Match(tt.key); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
		if ref := refGlob(tt.pattern, tt.key); ref != tt.want {
			t.Errorf("reference(%q, %q) = %v, want %v", tt.pattern, tt.key, ref, tt.want)
		}
	}
}

// refGlob is the reference: expand the braces, then match segment lists.
func refGlob(pattern, key string) bool {
	for _, alt := range refExpand(pattern) {
		if refMatch(strings.Split(alt, "/"), strings.Split(key, "/")) {
			return true
		}
	}
	return false
}

// refExpand expands the first brace group recursively, naively.
func refExpand(p string) []string {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return []string{p}
	}
	depth := 0
	var parts []string
	last := open + 1
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case ',':
			if depth == 1 {
				parts = append(parts, p[last:i])
				last = i + 1
			}
		case '}':
			depth--
			if depth == 0 {
				parts = append(parts, p[last:i])
				var out []string
				for _, part := range parts {
					out = append(out, refExpand(p[:open]+part+p[i+1:])...)
				}
				return out
			}
		}
	}
	return []string{p}
}

// refMatch matches segment lists by plain recursion.
func refMatch(pat, key []string) bool {
	if len(pat) == 0 {
		return len(key) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(key); i++ {
			if refMatch(pat[1:], key[i:]) {
				return true
			}
		}
		return false
	}
	return len(key) > 0 && refSeg([]rune(pat[0]), key[0]) && refMatch(pat[1:], key[1:])
}

func refSeg(p []rune, s string) bool {
	if len(p) == 0 {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; ; {
			if refSeg(p[1:], s[i:]) {
				return true
			}
			if i == len(s) {
				return false
			}
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
	case '?':
		if s == "" {
			return false
		}
		_, n := utf8.DecodeRuneInString(s)
		return refSeg(p[1:], s[n:])
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], p[0])
	return strings.HasPrefix(s, string(buf[:n])) && refSeg(p[1:], s[n:])
}
