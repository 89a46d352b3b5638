package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
)

// Watermarks: a transform with a watermark (wm: or a preset's watermark)
// composites an image object from the source's bucket, named by the
// transform (wmk:, watermark.key) or images.watermark_key. Its HEAD (the
// existence cache's) gives the ETag that joins the variant key, so that
// replacing the logo renders new variants; the bytes are fetched on a
// render, bounded by watermarkMaxBytes, checked like a source (probe,
// pixel limit) and kept in memory by bucket, key and ETag. A watermark
// that is missing or unreadable is a 422 naming it, never a 500.

// watermarkMaxBytes bounds a watermark object.
const watermarkMaxBytes = 4 << 20

// watermarkCacheEntries bounds the watermarks held in memory; when full
// the cache starts again (watermarks are few: a logo or two per site).
const watermarkCacheEntries = 32

// watermarkRef names one version of a watermark object.
type watermarkRef struct{ bucket, key, etag string }

// stamp is what a watermarked variant adds to its key and to its stored
// copy's source-etag metadata: "" without a watermark.
func (r watermarkRef) stamp() string {
	if r.key == "" {
		return ""
	}
	return "|wm:" + r.key + ":" + r.etag
}

// watermarkCache holds watermark images by bucket, key and ETag. Safe for
// concurrent use; the zero value is empty and ready.
type watermarkCache struct {
	mu sync.Mutex
	m  map[watermarkRef][]byte
}

func (c *watermarkCache) get(r watermarkRef) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[r]
	return b, ok
}

func (c *watermarkCache) put(r watermarkRef, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= watermarkCacheEntries {
		c.m = make(map[watermarkRef][]byte)
	}
	c.m[r] = b
}

// resolveWatermark finds the watermark of ir.tr in bucket (a HEAD through
// the existence cache), records it in ir and adds its version to the
// variant key. Nothing happens for a transform without a watermark.
func (s *Server) resolveWatermark(ctx context.Context, bucket string, ir *imageRequest, vk *variantKey) *Error {
	if ir.tr.Watermark.Opacity <= 0 {
		return nil
	}
	ref, e := s.findWatermark(ctx, bucket, ir.tr)
	if e != nil {
		return e
	}
	ir.wm = ref
	vk.spec += ref.stamp()
	return nil
}

// findWatermark names tr's watermark object and its current version.
func (s *Server) findWatermark(ctx context.Context, bucket string, tr resize.Transform) (watermarkRef, *Error) {
	key := tr.Watermark.Key
	if key == "" {
		key = s.cfg.Images.WatermarkKey
	}
	if key == "" {
		return watermarkRef{}, errorf(http.StatusBadRequest, "a watermark was asked for, but none is named (wmk:) or configured (images.watermark_key)")
	}
	m, _, err := s.heads.get(ctx, bucket, key)
	if err != nil {
		return watermarkRef{}, storeError(err)
	}
	if !m.Exists {
		return watermarkRef{}, errorf(http.StatusUnprocessableEntity, "watermark image %q not found", truncate(key, 256))
	}
	if m.Size > watermarkMaxBytes {
		return watermarkRef{}, errorf(http.StatusUnprocessableEntity, "watermark image %q is %d bytes, over %d", truncate(key, 256), m.Size, watermarkMaxBytes)
	}
	return watermarkRef{bucket: bucket, key: key, etag: m.ETag}, nil
}

// watermarkBytes returns the watermark image of r, from memory or S3.
// Failures are *resize.Error (422) or the store's errors (502/503/504).
// A request that did not resolve its watermark (an eager render of a
// preset with one) resolves it here.
func (s *Server) watermarkBytes(ctx context.Context, bucket string, ir *imageRequest) ([]byte, error) {
	if ir.tr.Watermark.Opacity <= 0 {
		return nil, nil
	}
	if ir.wm.key == "" {
		ref, e := s.findWatermark(ctx, bucket, ir.tr)
		if e != nil {
			return nil, &resize.Error{Status: e.Status, Msg: e.Msg, Err: e}
		}
		ir.wm = ref
	}
	r := ir.wm
	if b, ok := s.watermarks.get(r); ok {
		return b, nil
	}
	data, m, err := s.store.Get(ctx, r.bucket, r.key, watermarkMaxBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &resize.Error{Status: http.StatusUnprocessableEntity, Msg: fmt.Sprintf("watermark image %q not found", truncate(r.key, 256)), Err: err}
	case errors.Is(err, store.ErrTooLarge):
		return nil, &resize.Error{Status: http.StatusUnprocessableEntity, Msg: fmt.Sprintf("watermark image %q is over %d bytes", truncate(r.key, 256), watermarkMaxBytes), Err: err}
	case err != nil:
		return nil, err
	}
	if _, err := s.images.Check(data); err != nil {
		why := "unreadable"
		var re *resize.Error
		if errors.As(err, &re) {
			why = re.Msg
		}
		return nil, &resize.Error{Status: http.StatusUnprocessableEntity, Msg: fmt.Sprintf("watermark image %q: %s", truncate(r.key, 256), why), Err: err}
	}
	r.etag = m.ETag // the version read, should it have changed since the HEAD
	s.watermarks.put(r, data)
	return data, nil
}
