package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxGlobAlternatives bounds brace expansion so a hostile pattern like
// "{a,b}{a,b}{a,b}..." cannot blow up compile time or memory.
const maxGlobAlternatives = 64

// glob is a compiled key pattern. Syntax:
//
//	*       any run of characters within one path segment (never crosses "/")
//	?       exactly one character within a segment
//	**      a whole segment: any number of segments, including zero
//	{a,b}   alternatives (may nest, may contain "/"); expanded at compile time
//
// Every other character matches itself. Matching does not allocate.
type glob struct {
	alts []globAlt
}

// globAlt is one brace-free alternative, split into segments.
type globAlt struct {
	segs   []string // "**" marks a multi-segment wildcard
	lit    []bool   // lit[i]: segs[i] has no wildcard
	prefix string   // literal key prefix every match must start with
	suffix string   // literal key suffix every match must end with
	stars  int      // number of "**" segments
	star   int      // index of the "**" segment when stars == 1
}

func compileGlob(pattern string) (*glob, error) {
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
	g := &glob{alts: make([]globAlt, 0, len(expanded))}
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
		a := globAlt{segs: out, prefix: prefix, lit: make([]bool, len(out))}
		for i, s := range out {
			a.lit[i] = !strings.ContainsAny(s, "*?")
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
				if len(out) >= maxGlobAlternatives {
					return nil, fmt.Errorf("more than %d alternatives", maxGlobAlternatives)
				}
				out = append(out, head+a+t)
			}
		}
		start = end + 1
	}
	return out, nil
}

// match reports whether key matches any alternative. It does not allocate.
func (g *glob) match(key string) bool {
	for i := range g.alts {
		if g.alts[i].match(key) {
			return true
		}
	}
	return false
}

// match is the classic wildcard algorithm lifted to segments: "**" is the
// star, other segments are single-segment predicates. Backtracking to the
// most recent "**" is enough because segment patterns match exactly one
// segment.
func (a *globAlt) match(key string) bool {
	if !strings.HasPrefix(key, a.prefix) || !strings.HasSuffix(key, a.suffix) {
		return false
	}
	switch a.stars {
	case 0:
		return a.matchRange(key, len(a.segs)) && strings.Count(key, "/") == len(a.segs)-1
	case 1:
		// "**" absorbs whatever lies between the segments before it, matched
		// from the start, and those after it, matched from the end.
		if strings.Count(key, "/")+1 < len(a.segs)-1 {
			return false
		}
		return a.matchRange(key, a.star) && a.matchTail(key, a.star+1)
	}
	return a.matchBacktrack(key)
}

// matchRange matches segs[0:n] against the first n key segments.
func (a *globAlt) matchRange(key string, n int) bool {
	ki := 0
	for i := 0; i < n; i++ {
		if ki > len(key) {
			return false
		}
		seg, next, last := nextSeg(key, ki)
		if !a.matchOne(i, seg) {
			return false
		}
		ki = next
		if last {
			ki = len(key) + 1 // no segments left
		}
	}
	return true
}

// matchTail matches segs[from:] against the last key segments.
func (a *globAlt) matchTail(key string, from int) bool {
	end := len(key)
	for i := len(a.segs) - 1; i >= from; i-- {
		if end < 0 {
			return false
		}
		start := strings.LastIndexByte(key[:end], '/') + 1
		if !a.matchOne(i, key[start:end]) {
			return false
		}
		end = start - 1
	}
	return true
}

func (a *globAlt) matchOne(i int, seg string) bool {
	if a.lit[i] {
		return a.segs[i] == seg
	}
	return matchSeg(a.segs[i], seg)
}

// matchBacktrack handles patterns with several "**".
func (a *globAlt) matchBacktrack(key string) bool {
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
			if matchSeg(segs[pi], seg) {
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
