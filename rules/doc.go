// Package rules owns edgegate's routing rules file: it parses and validates the
// YAML file, compiles it into an immutable [Table], and answers the three
// questions the request path asks:
//
//   - which region is a client in ([Table.RegionFor], [Table.Region]),
//   - which route serves an object key ([Table.Route]), and
//   - which key prefixes to try for that route and region, most specific
//     first ([Route.Prefixes]).
//
// Validation reports every problem in the file at once, each with
// file:line:column (see [Error]). A [Table] is never modified after [Parse]
// returns it, so it is safe for concurrent use without locks; lookups on it
// do not allocate.
//
// [Store] holds the current Table behind an atomic pointer and hot-reloads
// it from disk (fsnotify on the file's directory plus polling). A reload
// builds and validates a complete new Table before swapping it in; a file
// that fails validation never replaces a good one.
//
// The package does not resolve client addresses to locations (package geo
// does), does not sign URLs (package presign), does not talk to object
// storage (package store) and knows nothing of HTTP (package gateway wires
// it to requests).
package rules
