// Package evloop serves the simplest, hottest HTTP/1.1 requests on a few
// epoll event loops, nginx-style, and hands every other connection to a
// goroutine-per-connection server.
//
// A loop owns its connections: it reads, parses and answers them without a
// goroutine or a netpoll round trip per request, so a keep-alive client
// costs one read and one write per request. The loop only takes what it can
// parse without doubt: an HTTP/1.1 GET or HEAD-shaped request with an
// origin-form target, no body, no obsolete line folding, and a head that
// fits in Config.MaxHeaderBytes. Anything else — a body, HTTP/1.0, an
// Upgrade, a header block the loop does not like, or a request the Handler
// declines — hands the whole connection, with the bytes already read, to
// the listener returned by Server.Handoffs, for a full server (fasthttp in
// edgegate) to serve from then on. So the loop never has to be a complete
// HTTP implementation, and no request is ever answered differently because
// of which side served it: the fallback sees exactly what the client sent.
// A new connection's first request is only peeked at (MSG_PEEK) before the
// loop takes it, so a connection that starts with a request the loop does
// not take (or a Taker declines) reaches the full server as the plain
// *net.TCPConn, with nothing to replay.
//
// A Handler answers on the loop when it can do so without blocking; when it
// cannot (a cache miss that needs the network), it says Block and the loop
// calls ServeBlocking on a goroutine, parks that connection, and resumes it
// when the answer is ready. Other connections on the loop are not held up.
//
// TLS connections come in through Server.ServeTLS once their handshake is
// done (NewTLSConn wraps the accepted socket, the caller handshakes it off
// the loop). A loop then owns the socket as it owns a plain one: crypto/tls
// reads it through a transport that makes the loop's non-blocking read (a
// would-block is a temporary error, which crypto/tls does not remember) and
// writes into the connection's output; answers are made in plain and
// sealed once per batch, so a keep-alive HTTPS request costs one read and
// one write, as a plain one. A TLS connection the loop gives up goes to
// the TLSHandoffs listener, still a TLS connection, with the plaintext it
// had read replayed.
//
// Idle and slow connections are closed after Config.IdleTimeout and
// Config.ReadTimeout. Shutdown stops accepting, closes idle connections,
// and lets requests in flight finish; the handoff listener is left to the
// full server serving it, which closes it when it shuts down.
//
// The loops need Linux (epoll, eventfd); elsewhere New returns
// ErrUnsupported and the caller serves everything the ordinary way. The
// build tag noevloop leaves them out on Linux too, so `go build -tags
// noevloop` compiles exactly the files other systems get (loop_other.go
// instead of loop_linux.go); CI builds, vets and tests that variant.
package evloop
