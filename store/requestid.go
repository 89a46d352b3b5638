package store

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// HeaderRequestID carries the gateway's request id on the S3 requests made
// for it, so that S3 server logs and the access log can be joined.
const HeaderRequestID = "X-Request-Id"

// RequestInfo is what a Store learns of the public request its calls are
// made for: the request id it sends with them, and the time they took.
// ID is set before the calls; S3Time may be read while calls run (safe
// for concurrent use).
type RequestInfo struct {
	ID   string
	s3ns atomic.Int64
}

// Reset prepares a reused RequestInfo for a new request.
func (r *RequestInfo) Reset(id string) {
	r.ID = id
	r.s3ns.Store(0)
}

// S3Time is the time spent in S3 operations so far (each from the start of
// its first attempt to its answer or last error, retries included; calls
// made concurrently add up).
func (r *RequestInfo) S3Time() time.Duration { return time.Duration(r.s3ns.Load()) }

type requestInfoKey struct{}

// RequestContext is a context carrying a RequestInfo. A caller can keep
// one in per-request memory it reuses and pass its address, which costs no
// allocation (WithRequest allocates). Not safe to modify while calls that
// were given it run.
type RequestContext struct {
	context.Context
	Info RequestInfo
}

// Value implements context.Context.
func (c *RequestContext) Value(k any) any {
	if _, ok := k.(requestInfoKey); ok {
		return &c.Info
	}
	return c.Context.Value(k)
}

// WithRequest returns ctx carrying ri.
func WithRequest(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

func requestInfoOf(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}

// requestIDMiddleware sets X-Request-Id on each attempt of an operation
// whose context carries a RequestInfo with an id (before signing: the
// header is signed like any other), and adds the operation's time to it.
func requestIDMiddleware(st *middleware.Stack) error {
	timing := middleware.InitializeMiddlewareFunc("edgegate.requestTime", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		ri := requestInfoOf(ctx)
		if ri == nil {
			return next.HandleInitialize(ctx, in)
		}
		start := time.Now()
		out, md, err := next.HandleInitialize(ctx, in)
		ri.s3ns.Add(int64(time.Since(start)))
		return out, md, err
	})
	header := middleware.BuildMiddlewareFunc("edgegate.requestID", func(ctx context.Context, in middleware.BuildInput,
		next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
		if ri := requestInfoOf(ctx); ri != nil && ri.ID != "" {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set(HeaderRequestID, ri.ID)
			}
		}
		return next.HandleBuild(ctx, in)
	})
	if err := st.Initialize.Add(timing, middleware.Before); err != nil {
		return err
	}
	return st.Build.Add(header, middleware.After)
}

// sdkContext is the context an S3 call hands the SDK: a RequestContext,
// which its caller reuses for its next request, is replaced by an
// immutable one carrying the same RequestInfo, because net/http may go on
// reading a request's context after the call returns (a dial it started
// for the request finishes in the background and asks the context for
// values) while the caller already writes the RequestContext again.
// Allocates only for a RequestContext, i.e. on calls that go to S3.
func sdkContext(ctx context.Context) context.Context {
	if rc, ok := ctx.(*RequestContext); ok {
		return WithRequest(rc.Context, &rc.Info)
	}
	return ctx
}
