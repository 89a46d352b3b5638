package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/edgegate/edgegate/internal/glob"
	"github.com/edgegate/edgegate/resize"
)

// EventsConfig configures eager rendering from S3 upload events
// (admin POST /events/s3).
type EventsConfig struct {
	// Eager lists key patterns (route-match glob syntax, over the full
	// object key: "global/photos/**") whose uploads are rendered at once.
	// Empty: events are accepted and ignored.
	Eager []string `yaml:"eager"`
	// Presets to render; default: every configured preset.
	Presets []string `yaml:"presets"`
	// Formats to render: "original" (the source's own format), jpeg, png,
	// webp, avif. Default: [original].
	Formats []string `yaml:"formats"`
	// Queue bounds pending uploads; when full the endpoint answers 503 so
	// the sender retries. Default 256.
	Queue int `yaml:"queue"`
	// Workers render queued uploads concurrently (admission still bounds
	// the megapixels in flight). Default 1.
	Workers int `yaml:"workers"`
	// Token, when set, is required as "Authorization: Bearer TOKEN"
	// (env EDGEGATE_EVENTS_TOKEN overrides).
	Token string `yaml:"token"`
}

func (c EventsConfig) validate(presets map[string]resize.Preset) error {
	var errs []error
	for _, p := range c.Eager {
		if _, err := glob.Compile(p); err != nil {
			errs = append(errs, fmt.Errorf("config: events.eager: %w", err))
		}
	}
	for _, p := range c.Presets {
		if _, ok := presets[p]; !ok {
			errs = append(errs, fmt.Errorf("config: events.presets: unknown preset %q", p))
		}
	}
	for _, f := range c.Formats {
		if _, ok := resize.ParseFormat(f); !ok && f != "original" {
			errs = append(errs, fmt.Errorf("config: events.formats: %q: want original, jpeg, png, webp or avif", f))
		}
	}
	if c.Queue <= 0 || c.Workers <= 0 {
		errs = append(errs, errors.New("config: events.queue and events.workers must be positive"))
	}
	return errors.Join(errs...)
}

// eventJob is one upload to render.
type eventJob struct{ bucket, key string }

// s3Event is the part of an S3 event notification the gateway reads.
type s3Event struct {
	Records []struct {
		EventName string `json:"eventName"`
		S3        struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// eventsHandler accepts S3 event notifications. Uploads (ObjectCreated:*)
// matching an eager pattern are queued; everything else, including events
// for variant keys (which our own write-back causes), is ignored.
func (s *Server) eventsHandler(w http.ResponseWriter, r *http.Request) {
	if tok := s.cfg.Events.Token; tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "missing or wrong bearer token", Status: http.StatusUnauthorized})
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "event body unreadable or over 1 MiB", Status: http.StatusBadRequest})
		return
	}
	var ev s3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "not an S3 event notification: " + err.Error(), Status: http.StatusBadRequest})
		return
	}
	var jobs []eventJob
	ignored := 0
	for _, rec := range ev.Records {
		key, err := url.QueryUnescape(rec.S3.Object.Key) // keys arrive URL-encoded
		if err != nil {
			key = rec.S3.Object.Key
		}
		if !strings.Contains(rec.EventName, "ObjectCreated:") || rec.S3.Bucket.Name == "" ||
			validKey(key) != nil || s.isVariantKey(key) || !s.eager(key) {
			ignored++
			continue
		}
		jobs = append(jobs, eventJob{rec.S3.Bucket.Name, key})
	}
	for i, j := range jobs {
		select {
		case s.eventQueue <- j:
		default:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{
				"error": "event queue full; retry", "status": http.StatusServiceUnavailable, "queued": i})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": len(jobs), "ignored": ignored})
}

func (s *Server) eager(key string) bool {
	for _, g := range s.eagerGlobs {
		if g.Match(key) {
			return true
		}
	}
	return false
}

// isVariantKey reports whether key lies under a preset's folder or the
// custom-size folder: our own write-backs, never sources.
func (s *Server) isVariantKey(key string) bool {
	if strings.HasPrefix(key, "custom/") {
		return true
	}
	for _, p := range s.images.Config().Presets {
		if p.Folder != "" && strings.HasPrefix(key, p.Folder) {
			return true
		}
	}
	return false
}

// eventWorker renders queued uploads until ctx ends.
func (s *Server) eventWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.eventQueue:
			s.renderEager(ctx, j)
		}
	}
}

// renderEager renders every configured preset × format of one upload and
// stores them. Already stored variants of the same source version are
// skipped, so duplicate events are harmless.
func (s *Server) renderEager(ctx context.Context, j eventJob) {
	defer s.metrics.eventsProcessed.Inc()
	m, err := s.heads.fetch(ctx, j.bucket, j.key) // fresh: the upload may replace a cached answer
	if err != nil || !m.Exists {
		s.log.Warn("event: source not readable", "bucket", j.bucket, "key", j.key, "err", err)
		return
	}
	srcFormat, srcKnown := resize.ParseFormat(strings.TrimPrefix(m.ContentType, "image/"))
	presets := s.cfg.Events.Presets
	if len(presets) == 0 {
		for name := range s.images.Config().Presets {
			presets = append(presets, name)
		}
	}
	formats := s.cfg.Events.Formats
	if len(formats) == 0 {
		formats = []string{"original"}
	}
	for _, name := range presets {
		tr, _ := s.images.Preset(name)
		for _, fs := range formats {
			ir := imageRequest{spec: name, tr: tr, key: j.key}
			vk := variantKey{bucket: j.bucket, key: j.key, etag: m.ETag, spec: name}
			if fs != "original" {
				ir.explicit = fs
				vk.format, _ = resize.ParseFormat(fs)
				vk.formatKnown = true
			} else if srcKnown && (srcFormat == resize.JPEG || srcFormat == resize.PNG) {
				vk.format, vk.formatKnown = srcFormat, true
			}
			start := time.Now()
			_, _, err := s.variants.GetOrLoad(ctx, vk, func(lctx context.Context) (*variant, time.Duration, error) {
				return s.renderVariant(lctx, vk, ir, m, true)
			})
			if err != nil {
				s.log.Warn("event: render failed", "key", j.key, "preset", name, "format", fs, "err", err)
				continue
			}
			s.log.Debug("event: rendered", "key", j.key, "preset", name, "format", fs, "took", time.Since(start))
		}
	}
}
