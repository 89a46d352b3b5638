package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/edgegate/edgegate/internal/glob"
	"github.com/edgegate/edgegate/queue"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
	"github.com/edgegate/edgegate/telemetry"
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
	// Formats to render: "original" (the source's own format: JPEG, PNG,
	// WebP, GIF and AVIF stay what they are, animations animated; HEIC and
	// TIFF become JPEG, or PNG with alpha), jpeg, png, webp, avif. Each is
	// stored where an /img/ request for that format looks. Default:
	// [original].
	Formats []string `yaml:"formats"`
	// Queue bounds pending uploads; when full the endpoint answers 503 so
	// the sender retries. Default 256.
	Queue int `yaml:"queue"`
	// Workers render queued uploads concurrently (admission still bounds
	// the megapixels in flight). Default 1.
	Workers int `yaml:"workers"`
	// SQS lists queues to consume upload events from: S3 notifications
	// as S3 sends them, wrapped by SNS, or EventBridge events (see
	// queue.Config for each field and its default). Default: none.
	SQS []queue.Config `yaml:"sqs"`
	// Token, when set, is required as "Authorization: Bearer TOKEN"
	// (admin.token is accepted too; env EDGEGATE_EVENTS_TOKEN overrides).
	// Unset, events need admin.token when admin_listen is not
	// loopback-only, and otherwise Content-Type: application/json (which a
	// web page cannot send cross-origin without a CORS preflight).
	Token string `yaml:"token"`
	// SNS: the HTTPS endpoint for an SNS topic's subscription (admin
	// POST /events/sns; see SNSConfig).
	SNS SNSConfig `yaml:"sns"`
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
	if err := c.SNS.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// eventJob is one upload to render or, removed, one deleted source whose
// stored variants go too.
type eventJob struct {
	bucket, key string
	removed     bool
	// parent is the POST's traceparent when tracing accepts it from its
	// peer: the event's span goes on the sender's trace.
	parent trace.SpanContext
}

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

// eventsHandler accepts S3 event notifications for the buckets the rules
// name. Uploads (ObjectCreated:*) matching an eager pattern are queued,
// and so are deletes (ObjectRemoved:*, any key: the source's stored
// variants go); everything else, including events for variant keys
// (which our own write-back causes), is ignored. Refusals are counted by reason
// (edgegate_events_refused_total).
func (s *Server) eventsHandler(w http.ResponseWriter, r *http.Request) {
	if !s.eventAllowed(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		s.adminRefuse(w, r, http.StatusBadRequest, "body", "event body unreadable or over 1 MiB")
		return
	}
	s.queueS3Event(w, r, body)
}

// queueS3Event decodes an S3 event notification (the body of POST
// /events/s3, the Message of an SNS notification), refuses it when it
// names a bucket the rules do not, and queues its jobs; it answers the
// request.
func (s *Server) queueS3Event(w http.ResponseWriter, r *http.Request, body []byte) {
	var ev s3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		s.adminRefuse(w, r, http.StatusBadRequest, "body", "not an S3 event notification: "+err.Error())
		return
	}
	if t := s.rules.Table(); t != nil {
		buckets := bucketsOf(t)
		for _, rec := range ev.Records {
			if !slices.Contains(buckets, rec.S3.Bucket.Name) {
				s.adminRefuse(w, r, http.StatusForbidden, "bucket",
					"bucket "+strconv.Quote(truncate(rec.S3.Bucket.Name, 64))+" is not one the rules route to; nothing queued")
				return
			}
		}
	}
	var jobs []eventJob
	ignored := 0
	parent := s.eventParent(r)
	for _, rec := range ev.Records {
		key, err := url.QueryUnescape(rec.S3.Object.Key) // keys arrive URL-encoded
		if err != nil {
			key = rec.S3.Object.Key
		}
		created := strings.Contains(rec.EventName, "ObjectCreated:")
		removed := strings.Contains(rec.EventName, "ObjectRemoved:")
		if !(created || removed) || rec.S3.Bucket.Name == "" ||
			validKey(key) != nil || s.isVariantKey(key) || (created && !s.eager(key)) {
			ignored++
			continue
		}
		jobs = append(jobs, eventJob{bucket: rec.S3.Bucket.Name, key: key, removed: removed, parent: parent})
	}
	for i, j := range jobs {
		select {
		case s.eventQueue <- j:
		default:
			s.metrics.eventsRefused.WithLabelValues("queue_full").Inc()
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{
				"error": "event queue full; retry", "status": http.StatusServiceUnavailable, "queued": i})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": len(jobs), "ignored": ignored})
}

// eventAllowed authenticates an event: a bearer token (events.token or
// admin.token) when one is set or the admin listener is not loopback-only;
// otherwise Content-Type: application/json. It answers the refusal itself
// and returns false.
func (s *Server) eventAllowed(w http.ResponseWriter, r *http.Request) bool {
	ok, presented := bearer(r, s.cfg.Events.Token, s.cfg.Admin.Token)
	switch {
	case ok:
		return true
	case presented || s.cfg.Events.Token != "" || (!s.adminLoopback && s.cfg.Admin.Token != ""):
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgegate-events"`)
		s.adminRefuse(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
		return false
	case !s.adminLoopback:
		s.adminRefuse(w, r, http.StatusForbidden, "no_token",
			"the admin listener is not loopback-only and neither events.token nor admin.token is set: events are off")
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.adminRefuse(w, r, http.StatusUnsupportedMediaType, "content_type",
			"send Content-Type: application/json, or a bearer token")
		return false
	}
	return true
}

// eventParent is the traceparent of an event's POST when tracing is on
// and accepts it from the request's peer (tracing.accept_traceparent).
func (s *Server) eventParent(r *http.Request) trace.SpanContext {
	tp := r.Header.Get("Traceparent")
	if s.tracing == nil || tp == "" {
		return trace.SpanContext{}
	}
	peer, _ := netip.ParseAddrPort(r.RemoteAddr)
	if !s.tracing.AcceptFrom(s.tracing.AcceptsOnlyTrusted() && s.ipres.Trusted(peer.Addr().Unmap())) {
		return trace.SpanContext{}
	}
	sc, _ := telemetry.ParseTraceparent([]byte(tp))
	return sc
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
			if j.removed {
				s.removeVariants(ctx, j)
				continue
			}
			s.renderEager(ctx, j)
		}
	}
}

// renderEager renders every configured preset × format of one upload and
// stores them, as an SQS message's renderUpload does: the source
// downloaded once for all of them, the renders as admission schedules
// them, already stored variants of the same source version skipped (so
// duplicate events are harmless), busy answers waited out.
func (s *Server) renderEager(ctx context.Context, j eventJob) {
	defer s.metrics.eventsProcessed.Inc()
	ctx, span := s.startEventSpan(ctx, j)
	defer span.End()
	if err := s.renderUpload(ctx, j); err != nil {
		s.log.Warn("event: render failed", "bucket", j.bucket, "key", j.key, "err", err)
	}
}

// eagerVariant is one of the variants an upload is rendered to.
type eagerVariant struct {
	preset, format string // format: "original" (the source's own) or a format name
	ir             imageRequest
	vk             variantKey
}

// eagerVariants lists what an upload of j (source m) is rendered to:
// events.presets (default: every preset, sorted) × events.formats
// (default: the source's own format), for POST /events/s3, SNS and SQS
// alike, for each image policy the rules serve the upload with
// (eagerPlans: a region with quality 60 gets its own variants), each keyed
// as an /img/ request for it is (keyVariant), and once: "original" of a
// WebP is the "webp" variant. A variant that cannot be keyed (its
// watermark missing) is an error; the others are still listed.
func (s *Server) eagerVariants(ctx context.Context, j eventJob, m store.Meta) ([]eagerVariant, []error) {
	srcFormat, _ := resize.ParseFormat(strings.TrimPrefix(m.ContentType, "image/"))
	presets := s.cfg.Events.Presets
	if len(presets) == 0 {
		for name := range s.images.Config().Presets {
			presets = append(presets, name)
		}
		slices.Sort(presets)
	}
	formats := s.cfg.Events.Formats
	if len(formats) == 0 {
		formats = []string{"original"}
	}
	plans := s.eagerPlans(ctx, s.rules.Table(), j.bucket, j.key)
	out := make([]eagerVariant, 0, len(plans)*len(presets)*len(formats))
	var errs []error
	seen := make(map[variantKey]bool, cap(out))
	for _, plan := range plans {
		for _, name := range presets {
			tr, _ := s.images.Preset(name)
			for _, fs := range formats {
				if ev, err := s.eagerVariant(ctx, j, m, srcFormat, plan, name, tr, fs); err != nil {
					errs = append(errs, err)
				} else if !seen[ev.vk] {
					seen[ev.vk] = true
					out = append(out, ev)
				}
			}
		}
	}
	return out, errs
}

// eagerVariant keys one preset × format of an upload for one plan.
func (s *Server) eagerVariant(ctx context.Context, j eventJob, m store.Meta, srcFormat resize.Format, plan imagePlan,
	name string, tr resize.Transform, fs string) (eagerVariant, error) {
	ir := imageRequest{spec: tr.Spec(), tr: tr, key: j.key, explicit: fs, plan: plan}
	if fs == "original" {
		// The source's own format: asked for by name where the name may
		// keep an animation or alpha; as an old client (no Accept) gets
		// it otherwise: JPEG stays JPEG, PNG PNG, HEIC and TIFF become
		// JPEG (PNG with alpha).
		ir.explicit = ""
		switch srcFormat {
		case resize.WebP, resize.GIF, resize.AVIF:
			ir.explicit = srcFormat.String()
		}
	}
	vk, e := s.keyVariant(ctx, j.bucket, j.key, m, &ir)
	if e != nil {
		return eagerVariant{}, fmt.Errorf("gateway: event %s/%s %s %s: %w", j.bucket, j.key, name, fs, e)
	}
	return eagerVariant{preset: name, format: fs, ir: ir, vk: vk}, nil
}
