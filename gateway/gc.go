package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/store"
)

// GCConfig configures the removal of stored variants that no longer
// belong to a source (`edgegate gc`, and gc.schedule in the gateway).
type GCConfig struct {
	// Schedule runs gc in the gateway every this long, removing what it
	// finds (not a dry run). 0 (default): never; run `edgegate gc --apply`
	// instead. At least 1s when set.
	Schedule time.Duration `yaml:"schedule"`
	// PageSize is how many keys one listing page holds (S3 ListObjectsV2
	// MaxKeys, 1..1000): the most a walk keeps in memory. Default 1000.
	PageSize int `yaml:"page_size"`
}

func (c GCConfig) validate() error {
	var errs []error
	if c.Schedule < 0 || (c.Schedule > 0 && c.Schedule < time.Second) {
		errs = append(errs, fmt.Errorf("config: gc.schedule must be 0 (off) or at least 1s, not %v", c.Schedule))
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("config: gc.page_size must be 1..1000, not %d", c.PageSize))
	}
	return errors.Join(errs...)
}

// Why a stored variant is removed (the reason label of
// edgegate_variants_removed_total).
const (
	ReasonSourceDeleted = "source_deleted" // an ObjectRemoved event named its source
	ReasonSourceGone    = "source_gone"    // gc: its source no longer exists
	ReasonStale         = "stale"          // gc: its source-etag is not the source's ETag
)

// gcMetrics count stored variants removed and gc runs.
type gcMetrics struct {
	removed *prometheus.CounterVec
	runs    *prometheus.CounterVec
}

func newGCMetrics(reg *prometheus.Registry) *gcMetrics {
	m := &gcMetrics{
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_variants_removed_total",
			Help: "Stored variants deleted from S3, by reason: source_deleted (an ObjectRemoved event), source_gone or stale (gc).",
		}, []string{"reason"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edgegate_gc_runs_total",
			Help: "Scheduled gc runs (gc.schedule), by result: ok or error.",
		}, []string{"result"}),
	}
	for _, r := range []string{ReasonSourceDeleted, ReasonSourceGone, ReasonStale} {
		m.removed.WithLabelValues(r)
	}
	reg.MustRegister(m.removed, m.runs)
	return m
}

// variantExts are the extensions storedKey gives variants.
var variantExts = []string{resize.JPEG.Ext(), resize.PNG.Ext(), resize.WebP.Ext(), resize.AVIF.Ext(), resize.GIF.Ext()}

// presetFolders returns the presets' write-back folders, sorted, once each.
func (s *Server) presetFolders() []string {
	var out []string
	for _, p := range s.images.Config().Presets {
		if p.Folder != "" && !slices.Contains(out, p.Folder) {
			out = append(out, p.Folder)
		}
	}
	slices.Sort(out)
	return out
}

// variantSource returns the source key of the stored variant key under
// folder (storedKey's inverse), and false for a key that is no variant.
func variantSource(folder, key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, folder)
	if !ok {
		return "", false
	}
	for _, ext := range variantExts {
		if src, ok := strings.CutSuffix(rest, ext); ok && src != "" && validKey(src) == nil {
			return src, true
		}
	}
	return "", false
}

// customFolder returns the custom/{spec}/ folder of a key under custom/.
func customFolder(key string) (string, bool) {
	spec, _, ok := strings.Cut(strings.TrimPrefix(key, "custom/"), "/")
	if !ok || spec == "" || !strings.HasPrefix(key, "custom/") {
		return "", false
	}
	return "custom/" + spec + "/", true
}

// walk lists bucket/prefix a page (gc.page_size) at a time and calls fn
// for each entry; it stops at fn's first error.
func (s *Server) walk(ctx context.Context, bucket, prefix, delimiter string, fn func(store.ObjectInfo) error) error {
	token := ""
	for {
		p, err := s.store.ListPage(ctx, bucket, prefix, delimiter, token, s.cfg.GC.PageSize)
		if err != nil {
			return err
		}
		for _, o := range p.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if token = p.Next; token == "" {
			return nil
		}
	}
}

// removeVariants handles a queued ObjectRemoved event (removeSource),
// logging the outcome.
func (s *Server) removeVariants(ctx context.Context, j eventJob) {
	defer s.metrics.eventsProcessed.Inc()
	n, err := s.removeSource(ctx, j.bucket, j.key)
	if err != nil {
		s.log.Warn("event: deleting a removed source's variants failed", "bucket", j.bucket, "key", j.key,
			"deleted", n, "err", err)
		return
	}
	s.log.Debug("event: removed source handled", "bucket", j.bucket, "key", j.key, "deleted", n)
}

// removeSource is what an ObjectRemoved event of any origin (POST
// /events/s3, SNS, a queue) does: unless the source is back (uploaded
// again since), its stored variants are deleted. The fresh HEAD also tells
// the existence cache that it is gone. It returns how many variants it
// deleted; on an error some may be left (a retry finishes the job).
func (s *Server) removeSource(ctx context.Context, bucket, key string) (int, error) {
	m, err := s.heads.fetch(ctx, bucket, key)
	if err != nil {
		return 0, err
	}
	if m.Exists {
		s.log.Info("event: removed source exists again; variants kept", "bucket", bucket, "key", key)
		return 0, nil
	}
	return s.deleteVariants(ctx, bucket, key)
}

// deleteVariants removes every stored variant of bucket/key (each
// preset's folder, each custom size's), listing by prefix in bounded
// pages, and returns how many it removed.
func (s *Server) deleteVariants(ctx context.Context, bucket, key string) (int, error) {
	folders := s.presetFolders()
	err := s.walk(ctx, bucket, "custom/", "/", func(o store.ObjectInfo) error {
		if o.Dir {
			folders = append(folders, o.Key)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, folder := range folders {
		var victims []string
		err := s.walk(ctx, bucket, folder+key+".", "", func(o store.ObjectInfo) error {
			if src, ok := variantSource(folder, o.Key); ok && src == key {
				victims = append(victims, o.Key)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, v := range victims {
			if err := s.store.Delete(ctx, bucket, v); err != nil {
				return n, err
			}
			n++
			s.gcm.removed.WithLabelValues(ReasonSourceDeleted).Inc()
		}
	}
	return n, nil
}

// GCItem is one stored variant gc removes (or, in a dry run, would).
type GCItem struct {
	Bucket, Key string
	Source      string // the source key it was rendered from
	Reason      string // ReasonSourceGone or ReasonStale
	Removed     bool   // false in a dry run, or when the DELETE failed
}

// GCStats sums up a gc run.
type GCStats struct {
	Checked int // stored variants looked at
	Found   int // of them no longer belonging to their source
	Removed int
}

// GC walks the stored variants of every bucket the rules route to (each
// preset's folder and custom/), a listing page (gc.page_size) at a time,
// and finds those whose source is gone or whose source-etag metadata is
// not the source's ETag (a variant without it counts as stale). With
// apply it deletes them. report, if not nil, is called for each one found.
// Errors stop the run; what was removed so far stays removed.
func (s *Server) GC(ctx context.Context, apply bool, report func(GCItem)) (GCStats, error) {
	var st GCStats
	t := s.rules.Table()
	if t == nil {
		return st, errors.New("gateway: gc: no rules loaded")
	}
	for _, bucket := range bucketsOf(t) {
		for _, prefix := range append(s.presetFolders(), "custom/") {
			sources := map[string]store.Meta{} // the latest sources' HEADs
			err := s.walk(ctx, bucket, prefix, "", func(o store.ObjectInfo) error {
				folder := prefix
				if prefix == "custom/" {
					var ok bool
					if folder, ok = customFolder(o.Key); !ok {
						return nil
					}
				}
				src, ok := variantSource(folder, o.Key)
				if !ok {
					return nil // not ours
				}
				st.Checked++
				sm, seen := sources[src]
				if !seen {
					var err error
					if sm, err = s.store.Head(ctx, bucket, src); err != nil {
						return err
					}
					if len(sources) >= 64 { // keys come in order: a source's variants are near
						clear(sources)
					}
					sources[src] = sm
				}
				it := GCItem{Bucket: bucket, Key: o.Key, Source: src}
				if !sm.Exists {
					it.Reason = ReasonSourceGone
				} else {
					vm, err := s.store.Head(ctx, bucket, o.Key)
					if err != nil {
						return err
					}
					if !vm.Exists || vm.Metadata[metaSourceETag] == sm.ETag {
						return nil
					}
					it.Reason = ReasonStale
				}
				st.Found++
				if apply {
					if err := s.store.Delete(ctx, bucket, o.Key); err != nil {
						return err
					}
					it.Removed = true
					st.Removed++
					s.gcm.removed.WithLabelValues(it.Reason).Inc()
				}
				if report != nil {
					report(it)
				}
				return nil
			})
			if err != nil {
				return st, fmt.Errorf("gateway: gc: %s/%s: %w", bucket, prefix, err)
			}
		}
	}
	return st, nil
}

// gcLoop runs GC, removing, every gc.schedule until ctx ends.
func (s *Server) gcLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.GC.Schedule)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := s.GC(ctx, true, func(it GCItem) {
			s.log.Info("gc: removed stored variant", "bucket", it.Bucket, "key", it.Key, "reason", it.Reason)
		})
		if err != nil {
			s.gcm.runs.WithLabelValues("error").Inc()
			s.log.Warn("gc failed", "err", err, "checked", st.Checked, "removed", st.Removed)
			continue
		}
		s.gcm.runs.WithLabelValues("ok").Inc()
		s.log.Info("gc done", "checked", st.Checked, "removed", st.Removed)
	}
}
