package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/accesslog"
	"github.com/edgegate/edgegate/cache"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
)

// ImagesConfig configures /img/: the resize settings (presets, limits,
// qualities, admission, signing keys) plus the gateway's variant cache and
// write-back.
type ImagesConfig struct {
	resize.Config `yaml:",inline"`
	// CacheBytes bounds the in-process variant cache by the sum of the
	// rendered images' sizes. Default 256 MiB; 0 disables it (every
	// request renders, or reads the stored variant: for benchmarks).
	CacheBytes int64 `yaml:"cache_bytes"`
	// MaxAge is the Cache-Control max-age of image answers. Default 24h.
	MaxAge time.Duration `yaml:"max_age"`
	// StoreVariants writes each rendered variant back to S3 under the
	// preset's folder (thumbnails/, medium/, large/ by default) so that
	// other gateways serve it without rendering. Default false.
	StoreVariants bool `yaml:"store_variants"`
	// SourceBytesInFlight bounds, in bytes, the sources downloaded for
	// rendering and held until their renders finish, over all requests
	// (Size from the HEAD, counted in KiB). A source that does not fit
	// waits like the megapixel admission (max_queue, max_wait), then gets
	// a 429 with Retry-After. Default 268435456 (256 MiB); at least 1 MiB.
	SourceBytesInFlight int64 `yaml:"source_bytes_in_flight"`
	// FailureCacheEntries bounds the remembered refusals (415, 413, 422)
	// of source versions (bucket, key, ETag): asked again, the same
	// version is refused without a GET; a new version is tried again.
	// Default 10000 entries.
	FailureCacheEntries int `yaml:"failure_cache_entries"`
	// WatermarkKey is the object key, in the source's bucket, of the
	// watermark image a transform uses when it names none (wm: without
	// wmk:, a preset's watermark without key). Default: none, and such a
	// request is a 400.
	WatermarkKey string `yaml:"watermark_key"`
	// ClientHints honours the client hints Sec-CH-DPR (or DPR),
	// Sec-CH-Width (or Width) and Save-Data on image requests, and answers
	// with Accept-CH and a Vary naming them. The rules' image policy can
	// turn them on or off per route or region (client_hints). Default
	// false, as imgproxy's IMGPROXY_ENABLE_CLIENT_HINTS: every hint value
	// is another copy in the caches in front.
	ClientHints bool `yaml:"client_hints"`
	// Runtime: libvips' threads per operation and operation cache, and
	// glibc's malloc arenas (vips_concurrency 1, vips_cache_max_operations
	// 0, vips_cache_max_mem 0, vips_cache_max_files 100, malloc_arena_max
	// 2; see resize.Runtime), applied once by the binary at startup; a
	// VIPS_CONCURRENCY or MALLOC_ARENA_MAX in the environment wins.
	Runtime resize.Runtime `yaml:",inline"`
}

// Variant metadata written with stored variants.
const metaSourceETag = "source-etag"

// variantKey names one rendered variant: the source object and version,
// the transform and the output format (or formatUnknown when it depends
// on the source's alpha channel, known only after probing).
type variantKey struct {
	bucket, key, etag, spec string
	format                  resize.Format
	formatKnown             bool
	accept                  uint8 // with !formatKnown: which modern formats the client accepts
	// anim, for a source that may be animated (GIF, WebP, unknown type)
	// without ?format=: the still candidates and the animated format this
	// client gets (image_inputs.go); the format is chosen after probing.
	anim uint16
}

// variant is a rendered image, immutable once cached.
type variant struct {
	data   []byte
	format resize.Format
	etag   string // strong ETag, quotes included
	stored bool   // came from the S3 write-back tier, not rendered here
}

func variantSize(_ variantKey, v *variant) int64 { return int64(len(v.data)) + 128 }

var (
	prefixImage = []byte("/img/")
	strSig      = []byte("sig")
	hdrXCache   = []byte("X-Cache")
	hdrETag     = []byte("ETag")
)

// imageRequest is a parsed /img/ request.
type imageRequest struct {
	spec     string
	tr       resize.Transform
	key      string
	explicit string
	accept   []byte
	// resolve, when set, completes tr from the probed source before it is
	// rendered (the imgproxy path's resizing types that depend on the
	// source's size); the variant is keyed by tr as parsed.
	resolve func(resize.Transform, resize.Info) resize.Transform
	// plan is the rules' image policy and the client hints (imagepolicy.go).
	plan imagePlan
	// wm is the watermark's object and version (watermark.go).
	wm watermarkRef
	// disposition, when set, gives the answer's Content-Disposition for
	// its format (the imgproxy path's, imgproxy.go).
	disposition func(resize.Format) string
	// quality is the URL's quality per format (imgproxy's
	// format_quality), joined to the plan.
	quality resize.Quality
}

// f, when set, gives S3 calls their context and takes the decision and
// the cache status.
func (s *Server) serveImage(ctx *fasthttp.RequestCtx, path, rest []byte, f *reqFacts) {
	if !ctx.IsGet() && !ctx.IsHead() {
		e := errorf(http.StatusMethodNotAllowed, "method %s not allowed; use GET or HEAD", truncate(string(ctx.Method()), 16))
		e.Allow = "GET, HEAD" // writeError resets the response: a header set before it is lost
		writeError(ctx, e)
		return
	}
	ir, e := s.parseImageRequest(ctx, path, rest)
	if e != nil {
		writeError(ctx, e)
		return
	}
	s.serveImageRequest(ctx, ir, f)
}

// serveImageRequest answers a parsed image request (/img/ or /imgproxy/):
// route its key, then the variant from the cache, S3 or libvips.
func (s *Server) serveImageRequest(ctx *fasthttp.RequestCtx, ir imageRequest, f *reqFacts) {
	var bg context.Context = context.Background() // see serveRoute: not ctx, which shutdown cancels
	if f != nil {
		bg = &f.rctx // never cancelled either: it carries the request id to S3
	}
	t := s.rules.Table()
	// The route core's header reader, so that /img/ and /r/ read repeated
	// headers alike and one client gets one region on both.
	sc := s.scratch.Get().(*scratch)
	defer s.scratch.Put(sc)
	sc.hdrs.load(&ctx.Request.Header)
	defer sc.hdrs.reset(nil)
	bg, span := s.startImageSpan(bg, sc, peerAddr(ctx), ctx.Method()) // bg as it was unless recorded
	if span.IsRecording() {
		defer func() {
			endImageSpan(span, ctx.Response.StatusCode(), ctx.Response.Header.PeekBytes(hdrXCache), len(ctx.Response.Body()), nil)
		}()
	}
	req := request{key: ir.key, headers: &sc.hdrs, peer: peerAddr(ctx)}
	if args := ctx.QueryArgs(); args.HasBytes(strRegion) {
		req.region = append([]byte{}, args.PeekBytes(strRegion)...)
	}
	d, derr := s.decide(bg, t, req, nil)
	setDecision(span, &d)
	if f != nil && s.alog != nil {
		f.decided(&d)
		f.cache = accesslog.CacheNone // the variant cache's, below
		f.client(s, req.peer, &sc.hdrs)
	}
	if derr != nil {
		writeError(ctx, derr)
		return
	}
	ir.plan = s.planImage(&d, &ctx.Request.Header)
	ir.plan.urlQuality = ir.quality
	src, _, err := s.heads.get(bg, d.Bucket, d.ObjectKey)
	if err != nil {
		writeError(ctx, storeError(err))
		return
	}
	if !src.Exists {
		writeError(ctx, errorf(http.StatusNotFound, "source image %q not found", truncate(d.ObjectKey, 256)))
		return
	}
	if e := s.refuseFromHEAD(src); e != nil {
		writeError(ctx, e)
		return
	}
	if e := s.refusedBefore(sourceKey{d.Bucket, d.ObjectKey, src.ETag}); e != nil {
		writeError(ctx, e)
		return
	}
	vk, e := s.keyVariant(bg, d.Bucket, d.ObjectKey, src, &ir)
	if e != nil {
		writeError(ctx, e)
		return
	}
	// Answer a revalidation before doing any work, when the answer's
	// identity is already known.
	if vk.formatKnown && etagMatches(ctx.Request.Header.Peek("If-None-Match"), variantETag(vk)) {
		s.imageHeaders(ctx, t.Hash(), variantETag(vk), ir.explicit)
		ir.plan.writeHeaders(&ctx.Response.Header, ir.explicit)
		ctx.SetStatusCode(http.StatusNotModified)
		return
	}
	v, hit, err := s.variants.GetOrLoad(bg, vk, func(lctx context.Context) (*variant, time.Duration, error) {
		return s.renderVariant(lctx, vk, ir, src, s.cfg.Images.StoreVariants)
	})
	if err != nil {
		writeError(ctx, renderError(err))
		return
	}
	s.imageHeaders(ctx, t.Hash(), v.etag, ir.explicit)
	ir.plan.writeHeaders(&ctx.Response.Header, ir.explicit)
	switch {
	case hit:
		ctx.Response.Header.SetCanonical(hdrXCache, []byte("HIT"))
		s.metrics.imageCache.WithLabelValues("hit").Inc()
		f.setCache(accesslog.CacheHit)
	case v.stored:
		ctx.Response.Header.SetCanonical(hdrXCache, []byte("STORED"))
		s.metrics.imageCache.WithLabelValues("stored").Inc()
		f.setCache(accesslog.CacheStored)
	default:
		ctx.Response.Header.SetCanonical(hdrXCache, []byte("MISS"))
		s.metrics.imageCache.WithLabelValues("miss").Inc()
		f.setCache(accesslog.CacheMiss)
	}
	if etagMatches(ctx.Request.Header.Peek("If-None-Match"), v.etag) {
		ctx.SetStatusCode(http.StatusNotModified)
		return
	}
	if ir.disposition != nil {
		ctx.Response.Header.Set("Content-Disposition", ir.disposition(v.format))
	}
	ctx.SetContentType(v.format.ContentType())
	ctx.SetStatusCode(http.StatusOK)
	ctx.Response.SetBodyRaw(v.data) // immutable cached bytes: no copy
}

// keyVariant works out which variant of src (bucket/key) ir asks for:
// the output format when it is known before the source is read (else the
// candidates that decide it once probed), the region policy's transform,
// and the watermark's version, all in the key; ir gets the transform and
// watermark the render uses. /img/ requests and eager renders
// (renderUpload) key alike, so that each finds what the other rendered,
// in memory and in S3 (whose copies are found only by a known format).
func (s *Server) keyVariant(ctx context.Context, bucket, key string, src store.Meta, ir *imageRequest) (variantKey, *Error) {
	vk := variantKey{bucket: bucket, key: key, etag: src.ETag, spec: ir.spec}
	srcFormat, _ := resize.ParseFormat(strings.TrimPrefix(src.ContentType, "image/"))
	f1, err := ir.negotiate(srcFormat, false)
	if err != nil {
		return vk, resizeError(err)
	}
	f2 := f1
	if srcFormat != resize.JPEG { // a JPEG has no alpha: no second candidate
		f2, _ = ir.negotiate(srcFormat, true)
	}
	if f1 == f2 {
		vk.format, vk.formatKnown = f1, true
	} else {
		vk.accept = uint8(f1)<<4 | uint8(f2) // the candidates decide the format
	}
	keyAnimation(&vk, ir.accept, ir.explicit, srcFormat, f1, f2) // image_inputs.go
	ir.applyPlan(&vk, f1, f2)
	if e := s.resolveWatermark(ctx, bucket, ir, &vk); e != nil {
		return vk, e
	}
	return vk, nil
}

// parseImageRequest splits /img/{spec}/{key}, parses the spec, and checks
// the signature of custom sizes (HMAC of the path as sent, ?sig=).
func (s *Server) parseImageRequest(ctx *fasthttp.RequestCtx, path, rest []byte) (imageRequest, *Error) {
	var ir imageRequest
	i := bytes.IndexByte(rest, '/')
	if i <= 0 {
		return ir, errorf(http.StatusBadRequest, "want /img/{preset}/{key} or /img/{W}x{H}[-{fit}]/{key}?sig=...")
	}
	ir.spec = string(rest[:i])
	tr, err := s.images.ParseSpec(ir.spec)
	if err != nil {
		return ir, resizeError(err)
	}
	ir.tr = tr
	ir.spec = tr.Spec() // canonical: equal transforms share a variant
	key, kerr := parseKey(rest[i+1:])
	if kerr != nil {
		return ir, kerr
	}
	ir.key = key
	args := ctx.QueryArgs()
	if tr.Custom() {
		sig := args.PeekBytes(strSig)
		if len(sig) == 0 {
			return ir, errorf(http.StatusForbidden, "custom sizes need a signature (?sig=); presets do not")
		}
		if !s.images.Verify(string(path), string(sig)) {
			return ir, errorf(http.StatusForbidden, "bad signature for %q", truncate(string(path), 256))
		}
	}
	ir.explicit = string(args.PeekBytes(strFormat))
	ir.accept = append([]byte{}, ctx.Request.Header.PeekBytes(strAccept)...)
	return ir, nil
}

// renderVariant runs on a variant-cache miss, once per key however many
// requests wait: the stored variant in S3 if write-back is on, else fetch,
// check, admit, resize, and write back.
// With storeIt (write-back on, or eager rendering) the result is also put
// to S3, and an already stored variant of the same source version is used.
func (s *Server) renderVariant(ctx context.Context, vk variantKey, ir imageRequest, src store.Meta, storeIt bool) (*variant, time.Duration, error) {
	if storeIt && vk.formatKnown {
		sk := storedKey(ir.tr, vk.key, vk.format)
		gctx, span := telemetry.Child(ctx, spanGet, trace.SpanKindClient)
		data, m, err := s.store.Get(gctx, vk.bucket, sk, s.cfg.Images.MaxSourceBytes)
		endS3Span(span, vk.bucket, "variant", len(data), err)
		if err == nil && m.Metadata[metaSourceETag] == vk.etag+ir.wm.stamp() {
			return &variant{data: data, format: vk.format, etag: variantETag(vk), stored: true}, cache.NoExpiry, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("stored variant unreadable; rendering", "key", sk, "err", err)
		}
	}
	// Probed, downloaded once for all the variants rendered from it at
	// the same time, and held within images.source_bytes_in_flight until
	// the last render ends (in the libvips goroutine, which may outlive a
	// timeout).
	data, m, sourceDone, err := s.acquireSource(ctx, sourceKey{vk.bucket, vk.key, vk.etag}, src)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if sourceDone != nil {
			sourceDone()
		}
	}()
	// The source changed since its HEAD was cached: the answer describes
	// the version read (its ETag, the stored copy's source-etag), is not
	// cached under the old version's key, and the existence cache learns
	// the new version so that later requests key by it.
	changed := m.ETag != vk.etag
	if changed {
		vk.etag = m.ETag
		s.heads.put(vk.bucket, vk.key, m)
	}
	_, pspan := telemetry.Child(ctx, spanProbe, trace.SpanKindInternal)
	info, err := s.images.Check(data)
	endProbeSpan(pspan, info, err)
	if err != nil {
		s.rememberRefusal(sourceKey{vk.bucket, vk.key, vk.etag}, err)
		return nil, 0, err
	}
	wmData, err := s.watermarkBytes(ctx, vk.bucket, &ir)
	if err != nil {
		return nil, 0, err
	}
	f := vk.format
	if !vk.formatKnown {
		if f, err = ir.negotiate(info.Format, info.HasAlpha); err != nil {
			return nil, 0, err
		}
		f = animatedFormat(f, ir.accept, ir.explicit, info) // image_inputs.go
		vk.format, vk.formatKnown = f, true
		ir.tr = ir.plan.transform(ir.tr, f)
	}
	tr := ir.tr
	if ir.resolve != nil {
		tr = ir.resolve(tr, info)
	}
	admitStart := time.Now()
	release, err := s.admission.Acquire(ctx, info.Megapixels())
	s.metrics.admissionWait.Observe(time.Since(admitStart).Seconds())
	if err != nil {
		return nil, 0, err
	}
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	processDone := sourceDone
	sourceDone = nil // the goroutine gives the source back
	_, rspan := telemetry.Child(ctx, spanResize, trace.SpanKindInternal)
	go func() {
		defer release() // libvips cannot be interrupted: the budget is held until it finishes
		defer processDone()
		start := time.Now()
		out, _, err := s.images.ProcessWatermarked(data, tr, f, wmData)
		s.metrics.rendered(f, tr, time.Since(start))
		done <- result{out, err}
	}()
	timer := time.NewTimer(s.cfg.Images.Timeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		endResizeSpan(rspan, f, 0, errRenderTimeout)
		return nil, 0, errRenderTimeout
	}
	endResizeSpan(rspan, f, len(r.out), r.err)
	if r.err != nil {
		s.rememberRefusal(sourceKey{vk.bucket, vk.key, vk.etag}, r.err) // libvips cannot read it
		return nil, 0, r.err
	}
	v := &variant{data: r.out, format: f, etag: variantETag(vk)}
	s.metrics.imagesRendered.Inc()
	if storeIt {
		s.writeBack(ctx, vk.bucket, storedKey(ir.tr, vk.key, f), v, vk.etag+ir.wm.stamp())
	}
	if changed {
		return v, 0, nil // not under the caller's key, which names the old version
	}
	return v, cache.NoExpiry, nil
}

var errRenderTimeout = errors.New("gateway: image rendering timed out")

// writeBack stores a rendered variant in S3 in the background, bounded:
// when too many uploads are pending the variant is simply not stored. Of
// ctx it keeps only the span (the PUT's parent), not its cancellation.
func (s *Server) writeBack(ctx context.Context, bucket, key string, v *variant, sourceETag string) {
	select {
	case s.writeBacks.slots <- struct{}{}:
	default:
		s.log.Warn("write-back queue full; variant not stored", "key", key)
		return
	}
	// Started now: the request's span, its parent, may end before the PUT
	// does, and an ended span has no children.
	pctx, span := telemetry.Child(detachSpan(ctx), spanPut, trace.SpanKindClient)
	s.writeBacks.wg.Add(1)
	go func() {
		defer func() { <-s.writeBacks.slots; s.writeBacks.wg.Done() }()
		stored, err := s.putVariant(pctx, bucket, key, v, sourceETag)
		endS3Span(span, bucket, "variant", len(v.data), err)
		switch {
		case err != nil:
			s.log.Warn("write-back failed", "key", key, "err", err)
		case stored:
			s.metrics.variantsStored.Inc()
		default:
			s.metrics.storeConflicts.Inc()
		}
	}()
}

// putVariant writes a variant with an S3 conditional write, so that of
// several gateways that rendered the same variant at once one stores it:
// If-None-Match: * creates it; a 412 means it is there already. If what is
// there was stored for another version of the source, it is replaced with
// If-Match on the ETag just read, so of several replacers one wins too.
// stored is false when another gateway's write won (not an error).
func (s *Server) putVariant(ctx context.Context, bucket, key string, v *variant, sourceETag string) (stored bool, err error) {
	meta := map[string]string{metaSourceETag: sourceETag}
	_, err = s.store.PutIfMeta(ctx, bucket, key, v.data, v.format.ContentType(), meta, store.Cond{IfAbsent: true})
	if !errors.Is(err, store.ErrPrecondition) {
		return err == nil, err
	}
	cur, err := s.store.Head(ctx, bucket, key)
	if err != nil || !cur.Exists || cur.Metadata[metaSourceETag] == sourceETag {
		return false, err // stored by another gateway (or deleted since: left to the next miss)
	}
	_, err = s.store.PutIfMeta(ctx, bucket, key, v.data, v.format.ContentType(), meta, store.Cond{IfMatch: cur.ETag})
	if errors.Is(err, store.ErrPrecondition) {
		return false, nil // another gateway replaced it first
	}
	return err == nil, err
}

// storedKey is where a variant lives in S3: the preset's folder, the
// source key, and the output format's extension
// (thumbnails/global/photos/sample.jpg.webp). Custom sizes use
// "custom/{spec}/".
func storedKey(tr resize.Transform, sourceKey string, f resize.Format) string {
	folder := tr.Folder
	if folder == "" {
		folder = "custom/" + tr.Spec() + "/"
	}
	return folder + sourceKey + f.Ext() // Ext includes the dot
}

// variantETag is a strong ETag from the source version, transform and format.
func variantETag(vk variantKey) string {
	h := sha256.New()
	for _, s := range []string{vk.bucket, vk.key, vk.etag, vk.spec, vk.format.String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// etagMatches implements If-None-Match (weak comparison, lists, "*").
func etagMatches(inm []byte, etag string) bool {
	if len(inm) == 0 {
		return false
	}
	for part := range strings.SplitSeq(string(inm), ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}

func (s *Server) imageHeaders(ctx *fasthttp.RequestCtx, rulesHash, etag, explicit string) {
	h := &ctx.Response.Header
	h.SetCanonical(hdrXEdgeRules, s2b(rulesHash))
	h.SetCanonical(hdrETag, s2b(etag))
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.Images.MaxAge/time.Second)))
	if resize.VariesByAccept(explicit) {
		h.SetCanonical(hdrVary, hdrAccept)
	}
}

// resizeError maps a resize error to its HTTP answer.
func resizeError(err error) *Error {
	var re *resize.Error
	if errors.As(err, &re) {
		return &Error{Status: re.Status, Msg: re.Msg, Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Msg: "image processing failed", Err: err}
}

// renderError maps any failure of renderVariant.
func renderError(err error) *Error {
	var re *resize.Error
	switch {
	case errors.As(err, &re):
		e := &Error{Status: re.Status, Msg: re.Msg, Err: err}
		e.RetryAfter = re.RetryAfter
		return e
	case errors.Is(err, store.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "source image is over the configured byte limit", Err: err}
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Msg: "source image not found", Err: err}
	case errors.Is(err, errRenderTimeout):
		return &Error{Status: http.StatusGatewayTimeout, Msg: "rendering took longer than the configured timeout", Err: err}
	}
	return storeError(err)
}

// storeError maps an object-storage failure: 503 when it was shed
// (s3.max_concurrent), 504 on timeouts, else 502.
func storeError(err error) *Error {
	if errors.Is(err, store.ErrBusy) {
		return &Error{Status: errS3Busy.Status, Msg: errS3Busy.Msg, RetryAfter: errS3Busy.RetryAfter, Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusGatewayTimeout, Msg: "object storage timed out", Err: err}
	}
	return &Error{Status: http.StatusBadGateway, Msg: "object storage failed", Err: err}
}

// writeBacks bounds and tracks the background PUTs of rendered variants.
type writeBacks struct {
	slots chan struct{} // a slot per upload in flight
	wg    sync.WaitGroup
}
