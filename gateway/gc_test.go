package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// privateS3 points the gateway at an empty S3 server of its own, so that
// listing whole variant folders sees only this test's objects.
func privateS3(t *testing.T) func(*Config) {
	ep := testenv.NewS3(t, "")
	return func(c *Config) { c.S3.Endpoint = ep }
}

// put stores bucket/key with the given source-etag metadata ("" none).
func put(t *testing.T, g *testGateway, key, sourceETag string) {
	t.Helper()
	var meta map[string]string
	if sourceETag != "" {
		meta = map[string]string{metaSourceETag: sourceETag}
	}
	if err := g.srv.store.Put(context.Background(), demo.Bucket, key, []byte("x"), "image/jpeg", meta); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, g *testGateway, key string) bool {
	t.Helper()
	m, err := g.srv.store.Head(context.Background(), demo.Bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return m.Exists
}

func etagOf(t *testing.T, g *testGateway, key string) string {
	t.Helper()
	m, err := g.srv.store.Head(context.Background(), demo.Bucket, key)
	if err != nil || !m.Exists {
		t.Fatalf("HEAD %s: %v %v", key, m.Exists, err)
	}
	return m.ETag
}

// An ObjectRemoved event deletes the source's stored variants, in every
// preset folder and custom size, listed a page (here 1 key) at a time, and
// nothing else: not the variants of a source whose key merely starts the
// same, not other files. A source uploaded again keeps its variants.
func TestRemovedSourceDeletesVariants(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), privateS3(t), func(c *Config) { c.GC.PageSize = 1 })
	src := "global/uploads/del.jpg"
	victims := []string{"thumbnails/" + src + ".jpg", "medium/" + src + ".webp", "large/" + src + ".avif",
		"custom/300x200-cover/" + src + ".png", "custom/64x64-cover/" + src + ".jpg"}
	survivors := []string{src + "2", "thumbnails/" + src + ".jpg.jpg", "thumbnails/global/uploads/del.jpg2.jpg",
		"thumbnails/" + src + ".txt", "custom/300x200-cover/global/uploads/other.jpg.jpg", "global/uploads/back.jpg",
		"thumbnails/global/uploads/back.jpg.jpg"}
	for _, k := range append(victims, survivors...) {
		put(t, g, k, "")
	}
	processed := func() float64 { return testutil.ToFloat64(g.srv.metrics.eventsProcessed) }
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(g.admin+"/events/s3", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event: status %d", resp.StatusCode)
		}
	}
	// back.jpg is still there: its delete event is stale, its variant stays.
	post(eventBody("s3:ObjectRemoved:Delete", demo.Bucket, "global/uploads/back.jpg"))
	waitFor(t, 10*time.Second, "the first delete event to be handled", func() bool { return processed() >= 1 })
	post(eventBody("s3:ObjectRemoved:DeleteMarkerCreated", demo.Bucket, "global/uploads/del.jpg"))
	waitFor(t, 10*time.Second, "the second delete event to be handled", func() bool { return processed() >= 2 })
	for _, k := range victims {
		if exists(t, g, k) {
			t.Errorf("variant %s of the removed source is still stored", k)
		}
	}
	for _, k := range survivors {
		if !exists(t, g, k) {
			t.Errorf("%s was deleted; it is no variant of the removed source", k)
		}
	}
	if n := testutil.ToFloat64(g.srv.gcm.removed.WithLabelValues(ReasonSourceDeleted)); n != float64(len(victims)) {
		t.Errorf("edgegate_variants_removed_total{reason=source_deleted} = %v, want %d", n, len(victims))
	}
}

// gc finds the stored variants whose source is gone or changed, listing a
// page (here 2 keys) at a time; a dry run removes nothing, --apply removes
// exactly those, and a second run finds none.
func TestGC(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), privateS3(t), func(c *Config) { c.GC.PageSize = 2 })
	put(t, g, "global/gc/a.jpg", "")
	etag := etagOf(t, g, "global/gc/a.jpg")
	keep := []string{"thumbnails/global/gc/a.jpg.jpg", "custom/100x100-cover/global/gc/a.jpg.webp"}
	for _, k := range keep {
		put(t, g, k, etag)
	}
	put(t, g, "thumbnails/readme.txt", "")
	want := map[string]string{
		"medium/global/gc/a.jpg.webp":                 ReasonStale,
		"large/global/gc/a.jpg.jpg":                   ReasonStale, // no source-etag at all
		"thumbnails/global/gc/gone.jpg.jpg":           ReasonSourceGone,
		"custom/100x100-cover/global/gc/gone.png.png": ReasonSourceGone,
	}
	for k, r := range want {
		if r == ReasonStale && k == "medium/global/gc/a.jpg.webp" {
			put(t, g, k, `"an-older-version"`)
		} else {
			put(t, g, k, etag)
		}
	}
	put(t, g, "large/global/gc/a.jpg.jpg", "") // overwrite: no metadata
	run := func(apply bool) (GCStats, map[string]string) {
		t.Helper()
		found := map[string]string{}
		st, err := g.srv.GC(context.Background(), apply, func(it GCItem) {
			if it.Removed != apply || it.Bucket != demo.Bucket {
				t.Errorf("item %+v (apply %v)", it, apply)
			}
			found[it.Key] = it.Reason
		})
		if err != nil {
			t.Fatal(err)
		}
		return st, found
	}
	st, found := run(false)
	if !mapsEqual(found, want) || st.Found != 4 || st.Removed != 0 || st.Checked != 6 {
		t.Fatalf("dry run: %+v found %v, want %v", st, found, want)
	}
	for k := range want {
		if !exists(t, g, k) {
			t.Fatalf("dry run removed %s", k)
		}
	}
	st, found = run(true)
	if !mapsEqual(found, want) || st.Removed != 4 {
		t.Fatalf("apply: %+v removed %v, want %v", st, found, want)
	}
	for k := range want {
		if exists(t, g, k) {
			t.Errorf("%s still stored after gc --apply", k)
		}
	}
	for _, k := range append(keep, "thumbnails/readme.txt", "global/gc/a.jpg") {
		if !exists(t, g, k) {
			t.Errorf("gc removed %s", k)
		}
	}
	if st, found = run(false); st.Found != 0 || st.Checked != 2 {
		t.Fatalf("second run: %+v %v", st, found)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// gc.schedule runs gc in the gateway, removing.
func TestGCScheduled(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(), privateS3(t), func(c *Config) { c.GC.Schedule = time.Second })
	put(t, g, "thumbnails/global/gone.jpg.jpg", `"x"`)
	waitFor(t, 15*time.Second, "the scheduled gc to remove an orphan", func() bool {
		return !exists(t, g, "thumbnails/global/gone.jpg.jpg")
	})
	waitFor(t, 5*time.Second, "the run to be counted", func() bool {
		return testutil.ToFloat64(g.srv.gcm.runs.WithLabelValues("ok")) >= 1
	})
}

func TestGCConfigValidate(t *testing.T) {
	for _, c := range []GCConfig{{PageSize: 0}, {PageSize: 1001}, {PageSize: 10, Schedule: -1}, {PageSize: 10, Schedule: time.Millisecond}} {
		if c.validate() == nil {
			t.Errorf("validate accepted %+v", c)
		}
	}
	if err := DefaultConfig().GC.validate(); err != nil {
		t.Fatal(err)
	}
}
