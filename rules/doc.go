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
// # The rules file
//
//	default_region: global            # required; names a region
//	regions:                          # name (lower-case slug) -> criteria
//	  egypt-cairo: {country: EG, city: Cairo, prefix: egypt/cairo/, fallback: egypt}
//	  egypt:       {country: EG, prefix: egypt/, fallback: global, max_ttl: 1d,
//	                image: {quality: 50, formats: [webp, jpeg], max_dpr: 2, save_data: lighter}}
//	  europe:      {continent: EU, prefix: europe/, fallback: global}
//	  global:      {prefix: global/}  # no criteria: reached by name, default or fallback
//	routes:                           # ordered; the first matching route wins
//	  - {name: maps, match: "maps/**", bucket: edge-demo, delivery: presign, ttl: 1h,
//	     fallback: exists, regions: {egypt: maps-eg/}}
//	  - {name: web, match: "**", bucket: edge-web, delivery: cdn, cdn: "https://cdn.example.com", ttl: 7d,
//	     cdn_policy: wildcard, cache: public}
//
// Optional route fields: content_disposition and content_type (response
// overrides of presigned URLs), cdn_policy (canned, the default, or
// wildcard: a CloudFront custom policy covering the key's directory), and
// cache (private, the default, or public: answers whose region came from
// ?region= or a CDN geo header may be kept by shared caches).
//
// Image policy (image:, on a region or a route; [ImagePolicy]): defaults
// for /img/ answers. quality is one number (1–100) for every lossy format
// or a mapping {jpeg: 80, webp: 75, avif: 55}; it applies where the preset
// or the signed URL gives none. formats is the preferred order of
// negotiated output formats: the first the client accepts wins, formats
// not listed are never chosen by negotiation ([webp, jpeg] keeps AVIF's
// encoding cost off a region), ?format= still wins. max_dpr (1–4) caps the
// device pixel ratio. save_data (lighter, the default, or ignore) says
// whether "Save-Data: on" gets DPR 1 and two thirds of the quality.
// client_hints (on or off) overrides the gateway's images.client_hints for
// Sec-CH-DPR, Sec-CH-Width and Save-Data. A request gets, field by field,
// its region's policy, then that of each region it falls back to (nearest
// first), then its route's ([Route.ImagePolicy]); a policy on the region
// every chain ends in (global) therefore applies before any route's. A
// region's top-level formats list is the same as image: {formats: …}.
//
// Region criteria (country, subdivision, city, continent) take a string or
// a list; all given criteria must match, and a region naming a city or
// subdivision must name a country too. Specificity is city > subdivision >
// country > continent; two regions that some location could match at the
// same specificity are rejected as ambiguous. Prefixes are "" or end in
// "/", with no leading "/", ".." segment, backslash or control character.
//
// Route patterns (match) are globs over the object key, compiled by package
// internal/glob: "*" matches within one path segment, "?" one character of
// a segment, "**" (a whole segment) any number of segments including none,
// and "{a,b}" alternatives (at most 64 after expansion). Durations are Go
// durations with an optional leading day count ("7d", "1d12h"); presigned
// URLs live at most 7 days. Unknown fields, duplicate keys, unknown or
// looping fallbacks and bad values are all reported together, each with
// file:line:column.
//
// The package does not resolve client addresses to locations (package geo
// does), does not sign URLs (package presign), does not talk to object
// storage (package store) and knows nothing of HTTP (package gateway wires
// it to requests).
package rules
