package rules

import "github.com/edgegate/edgegate/internal/problem"

// Problem is one thing wrong with a rules file, at a 1-based line and column.
type Problem = problem.Problem

// Error is returned by [Parse] and [LoadFile] when a rules file is invalid. It
// lists every problem found, sorted by position. Use errors.As to get it.
type Error struct {
	Problems []Problem
}

// Error prints one "file:line:col: msg" per line.
func (e *Error) Error() string { return problem.Join(e.Problems) }
