// Package h2serve is edgegate's HTTP/2 server for the TLS listener: one
// goroutine per connection, the evloop shape on HTTP/2.
//
// The connection's goroutine reads frames; a complete request (HEADERS,
// any CONTINUATION, END_STREAM) is answered inline by Handler.Fast. When
// Fast cannot answer without blocking (a cache miss, an image render) it
// returns false and Handler.Slow runs on its own goroutine; its answer
// comes back to the connection under the connection's lock. Output is
// batched: frames for every stream are appended to one buffer, written
// with a single Write once the reader has no more buffered bytes (or when
// the buffer grows past Config.MaxUnsentBytes, which also stops reading
// until it is written).
//
// Framing and HPACK are golang.org/x/net/http2's Framer and hpack; this
// package does the rest of RFC 9113: the SETTINGS exchange, PING, flow
// control both ways, the stream state machine, request validation
// (pseudo-headers, connection-specific fields, content-length), RST_STREAM
// and GOAWAY (graceful on Shutdown). Request bodies are read and discarded
// (no edgegate endpoint reads one) with the windows replenished; trailers
// are refused.
//
// Limits against hostile clients, each on by default (Config): concurrent
// streams (a reset stream whose Slow handler is still running keeps its
// slot: rapid reset, CVE-2023-44487), the header list size decoded and
// raw (CONTINUATION floods, CVE-2024-27316; HPACK bombs), a budget of
// resets and of control frames per window (SETTINGS, PING, PRIORITY, empty
// DATA floods: GOAWAY ENHANCE_YOUR_CALM past it), handshake, header-block
// and idle timeouts, and the unsent output per connection. Stats counts
// what was refused.
//
// One file per job:
//
//	config.go   Config: limits and timeouts, defaults, Validate
//	server.go   Server: ServeConn, Shutdown, Stats
//	message.go  Request and Response, pooled per stream
//	conn.go     the connection: read loop, timeouts, frame dispatch
//	headers.go  header blocks: assembly, HPACK decoding, request validation
//	write.go    answers: HPACK encoding, flow-controlled DATA, the batched flush
//	budget.go   the per-window budgets of resets and control frames
package h2serve
