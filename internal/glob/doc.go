// Package glob compiles and matches the key patterns edgegate uses: the
// match of a route in the rules file (package rules) and the gateway's
// events.eager filters. Keys are object keys: "/"-separated segments with
// no leading "/".
//
// Syntax:
//
//	pattern  matches
//	*        any run of characters within one path segment (never crosses "/")
//	?        exactly one character (UTF-8 rune) within a segment
//	**       a whole segment: any number of segments, including none
//	{a,b}    alternatives (may nest, may contain "/"); expanded at compile time
//
// Every other character matches itself; there is no escape. "maps/**"
// matches "maps" too. A pattern must not be empty, start with "/", contain
// an empty segment (except a last one: "a/" matches "a/"), a backslash, a
// control or invalid UTF-8 character, or "**" within a segment; braces
// must balance, each group must have at least two alternatives, and a
// pattern expands to at most 64 alternatives.
//
// A [Glob] is immutable after [Compile] and safe for concurrent use;
// [Glob.Match] does not allocate. [Glob.Alternatives] and [FirstSegment]
// let a caller index many patterns by their first segment, as the rules
// table does.
package glob

// The syntax table above starts with a header row on purpose: an indented
// block whose first line starts with "*" is a list to gofmt, which would
// reflow the table into one bullet (as it once did).
