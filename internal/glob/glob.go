package glob

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxAlternatives bounds brace expansion so a hostile pattern like
// "{a,b}{a,b}{a,b}..." cannot blow up compile time or memory.
const maxAlternatives = 64

// Glob is a compiled key pattern (see the package documentation for the
// syntax). It is immutable and safe for concurrent use.
type Glob struct {
	pattern string
	alts    []Alt
}

// Alt is one brace-free alternative of a [Glob], split into segments: a
// key matches the Glob if it matches any of its alternatives. It is
// immutable and safe for concurrent use.
type Alt struct {
	segs   []string // "**" marks a multi-segment wildcard
	lit    []bool   // lit[i]: segs[i] has no wildcard
	one    []star1  // one[i].ok: segs[i] is pre*suf (one "*", no "?")
	prefix string   // literal key prefix every match must start with
	suffix string   // literal key suffix every match must end with
	stars  int      // number of "**" segments
	star   int      // index of the "**" segment when stars == 1
	// headLit is the segments before the first "**" (all of them if there
	// is none) joined by "/", when they are all literal and non-empty.
	headLit string
}

// Error is the error [Compile] returns: the pattern and what is wrong
// with it.
type Error struct {
	Pattern string
	Reason  string // e.g. `unmatched "{"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("glob: bad pattern %q: %s", e.Pattern, e.Reason)
}

// Compile compiles pattern. Its error is always an [*Error].
func Compile(pattern string) (*Glob, error) {
	g, err := compile(pattern)
	if err != nil {
		return nil, &Error{Pattern: pattern, Reason: err.Error()}
	}
	return g, nil
}

// String returns the pattern g was compiled from.
func (g *Glob) String() string { return g.pattern }

// Alternatives returns g's brace-free alternatives in pattern order, for
// callers that index patterns (e.g. by [Alt.FirstSegment]). The slice is
// shared: do not modify it.
func (g *Glob) Alternatives() []Alt { return g.alts }

// FirstSegment returns the alternative's first path segment and whether
// it is literal (no "*", "?" or "**"). A key the alternative matches has
// that first segment ([FirstSegment]) whenever literal is true.
func (a *Alt) FirstSegment() (seg string, literal bool) { return a.segs[0], a.lit[0] }

// FirstSegment returns key up to its first "/" (all of key if it has
// none). It does not allocate.
func FirstSegment(key string) string {
	seg, _, _ := nextSeg(key, 0)
	return seg
}

// compile does Compile's work; its errors carry only the reason.
func compile(pattern string) (*Glob, error) {
	if pattern == "" {
		return nil, errors.New("empty pattern")
	}
	if i := strings.IndexFunc(pattern, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }); i >= 0 {
		return nil, fmt.Errorf("control or invalid character at offset %d", i)
	}
	if strings.Contains(pattern, `\`) {
		return nil, errors.New(`backslash is not allowed (keys use "/")`)
	}
	expanded, err := expandBraces(pattern)
	if err != nil {
		return nil, err
	}
	g := &Glob{pattern: pattern, alts: make([]Alt, 0, len(expanded))}
	for _, p := range expanded {
		// Name the alternative only when braces made it differ from the pattern.
		alt := ""
		if p != pattern {
			alt = fmt.Sprintf("alternative %q: ", p)
		}
		if strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("%sstarts with \"/\" (keys have no leading slash)", alt)
		}
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if s == "" && i < len(segs)-1 {
				return nil, fmt.Errorf("%shas an empty path segment", alt)
			}
			if s != "**" && strings.Contains(s, "**") {
				return nil, fmt.Errorf("%s** must be a whole path segment (use * within a segment)", alt)
			}
		}
		// Collapse runs of "**": they match the same keys as one.
		out := segs[:0]
		for _, s := range segs {
			if s == "**" && len(out) > 0 && out[len(out)-1] == "**" {
				continue
			}
			out = append(out, s)
		}
		// Literal prefix used as a cheap pre-check. Stop before the "/" that
		// precedes the first wildcard segment: "maps/**" also matches "maps".
		prefix := p
		if i := strings.IndexAny(p, "*?"); i >= 0 {
			prefix = p[:i]
			if strings.HasPrefix(p[i:], "**") {
				prefix = strings.TrimSuffix(prefix, "/")
			}
		}
		a := Alt{segs: out, prefix: prefix, lit: make([]bool, len(out)), one: make([]star1, len(out))}
		for i, s := range out {
			a.lit[i] = !strings.ContainsAny(s, "*?")
			if s != "**" && strings.Count(s, "*") == 1 && !strings.Contains(s, "?") {
				j := strings.IndexByte(s, '*')
				a.one[i] = star1{ok: true, pre: s[:j], suf: s[j+1:]}
			}
			if s == "**" {
				a.stars++
				a.star = i
			}
		}
		if last := out[len(out)-1]; last != "**" {
			a.suffix = last[strings.LastIndexAny(last, "*?")+1:]
			if a.lit[len(out)-1] && len(out) > 1 && out[len(out)-2] != "**" {
				a.suffix = "/" + last
			}
		}
		head := out
		if a.stars > 0 {
			head = out[:slices.Index(out, "**")]
		}
		if len(head) > 0 && !slices.ContainsFunc(head, func(s string) bool { return strings.ContainsAny(s, "*?") }) {
			a.headLit = strings.Join(head, "/")
		}
		g.alts = append(g.alts, a)
	}
	return g, nil
}

// expandBraces turns "a{b,c{d,e}}f" into [abf acdf acef].
func expandBraces(p string) ([]string, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if strings.IndexByte(p, '}') >= 0 {
			return nil, errors.New(`unmatched "}"`)
		}
		return []string{p}, nil
	}
	if strings.IndexByte(p[:open], '}') >= 0 {
		return nil, errors.New(`unmatched "}"`)
	}
	// Find the matching close brace and the top-level commas.
	depth, closeAt := 0, -1
	commas := []int{}
	for i := open; i < len(p) && closeAt < 0; i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				closeAt = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if closeAt < 0 {
		return nil, errors.New(`unmatched "{"`)
	}
	if len(commas) == 0 {
		return nil, errors.New(`"{...}" needs at least two alternatives separated by ","`)
	}
	head, tail := p[:open], p[closeAt+1:]
	tails, err := expandBraces(tail)
	if err != nil {
		return nil, err
	}
	var out []string
	start := open + 1
	for _, end := range append(commas, closeAt) {
		alts, err := expandBraces(p[start:end])
		if err != nil {
			return nil, err
		}
		for _, a := range alts {
			for _, t := range tails {
				if len(out) >= maxAlternatives {
					return nil, fmt.Errorf("more than %d alternatives", maxAlternatives)
				}
				out = append(out, head+a+t)
			}
		}
		start = end + 1
	}
	return out, nil
}

// Match reports whether key matches any alternative. It does not allocate.
func (g *Glob) Match(key string) bool {
	for i := range g.alts {
		if g.alts[i].Match(key) {
			return true
		}
	}
	return false
}

// Match reports whether key matches the alternative. It does not allocate.
//
// It is the classic wildcard algorithm lifted to segments: "**" is the
// star, other segments are single-segment predicates. Backtracking to the
// most recent "**" is enough because segment patterns match exactly one
// segment.
func (a *Alt) Match(key string) bool {
	if !strings.HasPrefix(key, a.prefix) || !strings.HasSuffix(key, a.suffix) {
		return false
	}
	switch a.stars {
	case 0:
		_, exhausted, ok := a.matchHead(key, len(a.segs))
		return ok && exhausted
	case 1:
		// "**" absorbs whatever lies between the segments before it, matched
		// from the start, and those after it, matched from the end.
		off, exhausted, ok := a.matchHead(key, a.star)
		if !ok {
			return false
		}
		if exhausted {
			return a.star == len(a.segs)-1 // only "**" left: it matches zero segments
		}
		return a.matchTail(key[off:], a.star+1)
	}
	return a.matchBacktrack(key)
}

// matchHead matches segs[:n] against the first n key segments. It returns
// the offset of the key segment after them, or exhausted if the key has no
// segment left.
func (a *Alt) matchHead(key string, n int) (off int, exhausted, ok bool) {
	if n == 0 {
		return 0, false, true
	}
	if a.headLit != "" {
		if len(key) > len(a.headLit) && key[len(a.headLit)] == '/' && strings.HasPrefix(key, a.headLit) {
			return len(a.headLit) + 1, false, true
		}
		return 0, true, key == a.headLit
	}
	for i := 0; i < n; i++ {
		if exhausted {
			return 0, false, false
		}
		var seg string
		seg, off, exhausted = nextSeg(key, off)
		if !a.matchOne(i, seg) {
			return 0, false, false
		}
	}
	return off, exhausted, true
}

// matchTail matches segs[from:] against the last segments of rest, which
// must have at least that many segments.
func (a *Alt) matchTail(rest string, from int) bool {
	end := len(rest)
	for i := len(a.segs) - 1; i >= from; i-- {
		if end < 0 {
			return false
		}
		start := strings.LastIndexByte(rest[:end], '/') + 1
		if !a.matchOne(i, rest[start:end]) {
			return false
		}
		end = start - 1
	}
	return true
}

func (a *Alt) matchOne(i int, seg string) bool {
	if a.lit[i] {
		return a.segs[i] == seg
	}
	if o := &a.one[i]; o.ok {
		return len(seg) >= len(o.pre)+len(o.suf) && strings.HasPrefix(seg, o.pre) && strings.HasSuffix(seg, o.suf)
	}
	return matchSeg(a.segs[i], seg)
}

// star1 is a segment pattern with a single "*": pre*suf.
type star1 struct {
	ok       bool
	pre, suf string
}

// matchBacktrack handles patterns with several "**".
func (a *Alt) matchBacktrack(key string) bool {
	segs := a.segs
	pi, ki := 0, 0 // pattern segment index, byte offset of current key segment
	keyDone := false
	starPi, starKi := -1, 0
	starKeyDone := false
	for {
		if keyDone {
			// Only trailing "**" can match an exhausted key.
			for pi < len(segs) && segs[pi] == "**" {
				pi++
			}
			if pi == len(segs) {
				return true
			}
			// fall through to backtracking
		} else if pi < len(segs) {
			if segs[pi] == "**" {
				starPi, starKi, starKeyDone = pi, ki, keyDone
				pi++
				continue
			}
			seg, next, last := nextSeg(key, ki)
			if a.matchOne(pi, seg) {
				pi++
				ki = next
				keyDone = last
				continue
			}
		}
		if starPi < 0 || starKeyDone {
			return false
		}
		// Let the last "**" swallow one more key segment.
		_, next, last := nextSeg(key, starKi)
		starKi, starKeyDone = next, last
		pi, ki, keyDone = starPi+1, next, last
	}
}

// nextSeg returns the key segment starting at offset i, the offset of the
// segment after it, and whether it was the last one.
func nextSeg(key string, i int) (seg string, next int, last bool) {
	if j := strings.IndexByte(key[i:], '/'); j >= 0 {
		return key[i : i+j], i + j + 1, false
	}
	return key[i:], len(key), true
}

// matchSeg matches one segment against a pattern of literals, "*" and "?".
func matchSeg(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
