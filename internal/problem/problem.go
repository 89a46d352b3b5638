// Package problem is the shape of "everything wrong with this file" errors
// that edgegate's configuration and rules parsers share: each problem at a
// file, 1-based line and column (or a place without a line: an environment
// variable, a flag), printed one per line and sorted by position, so an
// operator fixes them all in one pass.
package problem

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong: where (a file and a 1-based line and column;
// or an environment variable or a flag, with Line 0) and what.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

// String prints "file:line:col: msg", or "where: msg" without a line.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// Join prints one problem per line.
func Join(ps []Problem) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Sort orders ps by file, line, column and message, in place, and drops
// exact duplicates; it returns the shortened slice.
func Sort(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), strings.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(ps)
}
