package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/resize"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
)

// probeBytes is how much of a source is read to probe its
// header before the whole object is downloaded.
const probeBytes = 64 << 10

// sourceKey names one version of a source object.
type sourceKey struct{ bucket, key, etag string }

// sources hands image sources to renderVariant: refused early when their
// HEAD or first bytes say they cannot be rendered, each refusal remembered
// per version, downloaded once however many variants want them at the same
// time, and held within a budget of bytes in flight. Safe for concurrent
// use.
type sources struct {
	sourceBudget *resize.Admission // KiB of sources downloaded and held
	failures     *cache.Cache[sourceKey, *Error]

	sourceMu sync.Mutex
	inUse    map[sourceKey]*source
}

// source is one download shared by the renders that use it.
type source struct {
	done    chan struct{} // closed when data, meta and err are set
	data    []byte
	meta    store.Meta // of the version read
	err     error
	refs    int    // users, under sourceMu
	release func() // gives back the budget; nil when none is held
}

func (s *Server) openSources() error {
	cfg := s.cfg.Images
	s.sourceBudget = resize.NewAdmission(int((cfg.SourceBytesInFlight+1023)>>10), cfg.MaxQueue, cfg.MaxWait)
	s.inUse = map[sourceKey]*source{}
	var err error
	s.failures, err = cache.New[sourceKey, *Error](cache.Options{MaxEntries: cfg.FailureCacheEntries, Now: s.clock.Now})
	return err
}

// refuseFromHEAD answers from what the HEAD already says, with no GET: a
// Content-Type that is no image (415) or a size over max_source_bytes
// (413). Types that count as possible images: image/*, and
// application/octet-stream, binary/octet-stream or none, which are probed.
func (s *Server) refuseFromHEAD(m store.Meta) *Error {
	if m.Size > s.cfg.Images.MaxSourceBytes {
		s.metrics.imageSourcesRefused.WithLabelValues("size").Inc()
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "source image is over the configured byte limit",
			Err: fmt.Errorf("%d bytes, limit %d", m.Size, s.cfg.Images.MaxSourceBytes)}
	}
	if !maybeImage(m.ContentType) {
		s.metrics.imageSourcesRefused.WithLabelValues("type").Inc()
		return errorf(http.StatusUnsupportedMediaType, "source is %s, not an image", truncate(m.ContentType, 64))
	}
	return nil
}

func maybeImage(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "image/") || mt == "application/octet-stream" || mt == "binary/octet-stream"
}

// refusedBefore reports the remembered refusal of this source version.
func (s *Server) refusedBefore(sk sourceKey) *Error {
	e, ok := s.failures.Get(sk)
	if !ok {
		return nil
	}
	s.metrics.imageSourcesRefused.WithLabelValues("cached").Inc()
	return e
}

// rememberRefusal keeps err for the source version when it says the source
// itself cannot be rendered (413, 415, 422), not that we failed to get it.
func (s *Server) rememberRefusal(sk sourceKey, err error) {
	e := renderError(err)
	switch e.Status {
	case http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		s.failures.Set(sk, &Error{Status: e.Status, Msg: e.Msg}, cache.NoExpiry)
	}
}

// acquireSource returns the source's bytes for a render, downloading them
// unless another render of the same version holds them already. done must
// be called once the bytes are no longer used (after Process); it is nil
// with an error.
func (s *Server) acquireSource(ctx context.Context, sk sourceKey, head store.Meta) (data []byte, m store.Meta, done func(), err error) {
	s.sourceMu.Lock()
	src, shared := s.inUse[sk]
	if !shared {
		src = &source{done: make(chan struct{})}
		s.inUse[sk] = src
	}
	src.refs++
	s.sourceMu.Unlock()
	done = sync.OnceFunc(func() { s.releaseSource(sk, src) })
	if !shared {
		gctx, span := telemetry.Child(ctx, spanGet, trace.SpanKindClient)
		src.data, src.meta, src.release, src.err = s.loadSource(gctx, sk, head)
		endS3Span(span, sk.bucket, "source", len(src.data), src.err)
		close(src.done)
	} else {
		select {
		case <-src.done:
		case <-ctx.Done():
			done()
			return nil, store.Meta{}, nil, ctx.Err()
		}
	}
	if src.err != nil {
		done()
		return nil, store.Meta{}, nil, src.err
	}
	return src.data, src.meta, done, nil
}

func (s *Server) releaseSource(sk sourceKey, src *source) {
	s.sourceMu.Lock()
	src.refs--
	last := src.refs == 0
	if last && s.inUse[sk] == src {
		delete(s.inUse, sk)
	}
	s.sourceMu.Unlock()
	if last && src.release != nil {
		src.release()
	}
}

// loadSource downloads a source with one GET, deciding from its first
// bytes whether to read the rest: a header that says it cannot be
// rendered stops the transfer after probeBytes, before any budget is
// taken; otherwise budget for the whole object is taken and the rest is
// read. (A ranged GET before the full one cost a second request per render,
// 12% of resize throughput: BENCHMARKS.md.) Refusals are remembered before
// it returns, so a request that misses this download finds them.
func (s *Server) loadSource(ctx context.Context, sk sourceKey, head store.Meta) ([]byte, store.Meta, func(), error) {
	obj, err := s.store.Open(ctx, sk.bucket, sk.key)
	if err != nil {
		return nil, store.Meta{}, nil, err
	}
	defer obj.Close()
	m := obj.Meta
	refuse := func(err error) ([]byte, store.Meta, func(), error) {
		s.metrics.imageSourceGets.WithLabelValues("stopped").Inc()
		s.metrics.imageSourcesRefused.WithLabelValues("probe").Inc()
		s.rememberRefusal(sourceKey{sk.bucket, sk.key, m.ETag}, err)
		return nil, m, nil, err
	}
	if m.Size > s.cfg.Images.MaxSourceBytes {
		return refuse(fmt.Errorf("gateway: %w: %d bytes, over %d", store.ErrTooLarge, m.Size, s.cfg.Images.MaxSourceBytes))
	}
	first := make([]byte, min(max(m.Size, 0), probeBytes))
	n, err := io.ReadFull(obj, first)
	s.metrics.sourceBytes.Add(float64(n))
	if err != nil {
		return nil, m, nil, err
	}
	if _, perr := s.images.Check(first); perr != nil && (int64(len(first)) >= m.Size ||
		errors.Is(perr, resize.ErrUnsupported) || errors.Is(perr, resize.ErrTooLarge)) {
		// A truncated header may go on past the first bytes: only the
		// whole object can say it is corrupt.
		return refuse(perr)
	}
	release, err := s.sourceBudget.Acquire(ctx, int((m.Size+1023)>>10))
	if err != nil {
		if errors.Is(err, resize.ErrBusy) {
			s.metrics.imageSourcesRefused.WithLabelValues("budget").Inc()
		}
		return nil, store.Meta{}, nil, err
	}
	data := first
	if rest := m.Size - int64(len(first)); rest > 0 {
		data = make([]byte, m.Size)
		copy(data, first)
		n, err := io.ReadFull(obj, data[len(first):])
		s.metrics.sourceBytes.Add(float64(n))
		if err != nil {
			release()
			return nil, m, nil, err
		}
	}
	s.metrics.imageSourceGets.WithLabelValues("full").Inc()
	return data, m, release, nil
}
