package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/edgegate/edgegate/queue"
	"github.com/edgegate/edgegate/store"
)

// validateSQS checks every events.sqs queue, its defaults applied.
func (c EventsConfig) validateSQS() error {
	var errs []error
	names := map[string]bool{}
	for i, q := range c.SQS {
		q = q.WithDefaults()
		where := fmt.Sprintf("events.sqs[%d]", i)
		if err := q.Validate(where); err != nil {
			errs = append(errs, err)
		}
		if names[q.Name] {
			errs = append(errs, fmt.Errorf("config: %s: name %q used twice (metrics label queues by name)", where, q.Name))
		}
		names[q.Name] = true
	}
	return errors.Join(errs...)
}

// openSQS builds a consumer per events.sqs queue, with the S3 clients'
// credentials (and their region when the queue's URL names none).
func (s *Server) openSQS() error {
	for _, qc := range s.cfg.Events.SQS {
		c, err := queue.New(qc, s.store.AWS(), s.handleSQS, queue.Options{
			Log:     s.log,
			Observe: func(q, outcome string) { s.metrics.sqsMessages.WithLabelValues(q, outcome).Inc() },
		})
		if err != nil {
			return fmt.Errorf("gateway: events.sqs %s: %w", qc.URL, err)
		}
		s.sqs = append(s.sqs, c)
	}
	return nil
}

// startSQS starts polling every queue.
func (s *Server) startSQS() {
	for _, c := range s.sqs {
		c.Start()
		s.log.Info("consuming upload events from SQS", "queue", c.Name())
	}
}

// stopSQS stops receiving at once; messages in flight may finish until
// ctx ends, then are released (visible again at once). The channel is
// closed when every consumer has stopped.
func (s *Server) stopSQS(ctx context.Context) <-chan struct{} {
	var wg sync.WaitGroup
	for _, c := range s.sqs {
		wg.Go(func() { c.Shutdown(ctx) }) // all stop receiving at once
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// handleSQS renders the uploads of one SQS message and stores their
// variants; nil means the message may be deleted. Records for buckets the
// rules do not name are dropped and counted
// (edgegate_events_refused_total{reason="bucket"}), never rendered; a
// removed source's stored variants are deleted (removeSource); other
// events, variant keys (our own write-backs) and uploads no events.eager
// pattern matches are done with nothing to do.
func (s *Server) handleSQS(ctx context.Context, m queue.Message) error {
	var buckets []string
	if t := s.rules.Table(); t != nil {
		buckets = bucketsOf(t)
	}
	var errs []error
	for _, r := range m.Records {
		if !slices.Contains(buckets, r.Bucket) {
			s.metrics.eventsRefused.WithLabelValues("bucket").Inc()
			s.log.Warn("sqs: event for a bucket the rules do not name; dropped", "bucket", truncate(r.Bucket, 64))
			continue
		}
		if !(r.Created || r.Removed) || validKey(r.Key) != nil || s.isVariantKey(r.Key) || (r.Created && !s.eager(r.Key)) {
			continue
		}
		if r.Removed {
			if _, err := s.removeSource(ctx, r.Bucket, r.Key); err != nil {
				errs = append(errs, fmt.Errorf("gateway: event %s/%s removed: %w", r.Bucket, r.Key, err))
			}
			continue
		}
		if err := s.renderUpload(ctx, eventJob{bucket: r.Bucket, key: r.Key}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// renderUpload renders every configured preset × format of one upload and
// stores each in S3 before it returns, so that the caller knows the work
// is done: nil when every variant is stored, or when the source is gone.
// A variant already stored for the same source version (its source-etag)
// is skipped without a render, so a message delivered twice is rendered
// and written once. While admission or S3 shed it (429, 503) it waits and
// tries again until ctx ends, holding its message rather than taking more.
func (s *Server) renderUpload(ctx context.Context, j eventJob) error {
	m, err := s.heads.fetch(ctx, j.bucket, j.key) // fresh: the upload may replace a cached answer
	if err != nil {
		return fmt.Errorf("gateway: event %s/%s: %w", j.bucket, j.key, err)
	}
	if !m.Exists {
		s.log.Info("event: source gone; nothing to render", "bucket", j.bucket, "key", j.key)
		return nil
	}
	var todo []eagerVariant
	evs, kerrs := s.eagerVariants(ctx, j, m)
	for _, ev := range evs {
		if !s.variantStored(ctx, ev.vk, ev.ir, m) {
			todo = append(todo, ev)
		}
	}
	if len(todo) > 1 {
		// Held while its variants render: one download for all of them,
		// however admission schedules the renders. Failing here (busy,
		// refused), each render meets and answers it as it would alone.
		if _, _, done, err := s.acquireSource(ctx, sourceKey{j.bucket, j.key, m.ETag}, m); err == nil {
			defer done()
		}
	}
	// All at once: admission, not this loop, decides how many render.
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, ev := range todo {
		wg.Go(func() {
			if err := s.renderAndPut(ctx, ev.vk, ev.ir, m); err != nil {
				errs[i] = fmt.Errorf("gateway: event %s/%s %s %s: %w", j.bucket, j.key, ev.preset, ev.format, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(append(kerrs, errs...)...)
}

// variantStored reports whether a variant of this source version is in
// S3 already (for a format known before the render).
func (s *Server) variantStored(ctx context.Context, vk variantKey, ir imageRequest, src store.Meta) bool {
	if !vk.formatKnown {
		return false
	}
	sm, err := s.store.Head(ctx, vk.bucket, storedKey(ir.tr, vk.key, vk.format))
	return err == nil && sm.Exists && sm.Metadata[metaSourceETag] == src.ETag+ir.wm.stamp()
}

// renderAndPut renders one variant (through the variant cache, shared with
// /img/ requests) and puts it in S3 (a conditional write, as /img/'s
// write-backs), synchronously.
func (s *Server) renderAndPut(ctx context.Context, vk variantKey, ir imageRequest, src store.Meta) error {
	for {
		v, _, err := s.variants.GetOrLoad(ctx, vk, func(lctx context.Context) (*variant, time.Duration, error) {
			return s.renderVariant(lctx, vk, ir, src, false)
		})
		if err == nil {
			if v.stored {
				return nil
			}
			stored, err := s.putVariant(ctx, vk.bucket, storedKey(ir.tr, vk.key, v.format), v, src.ETag)
			switch {
			case err != nil:
				return err
			case stored:
				s.metrics.variantsStored.Inc()
			default: // another gateway stored it first
				s.metrics.storeConflicts.Inc()
			}
			return nil
		}
		e := renderError(err)
		if e.Status != 429 && e.Status != 503 {
			return err
		}
		wait := time.Second
		if e.RetryAfter > 0 {
			wait = time.Duration(e.RetryAfter) * time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}
