package gateway

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// twelveVariants are 12 different variants of one source: 3 presets × 4
// output formats.
func twelveVariants(rel string) []string {
	var urls []string
	for _, preset := range []string{"thumbnail", "medium", "large"} {
		for _, f := range []string{"jpeg", "png", "webp", "avif"} {
			urls = append(urls, "/img/"+preset+"/"+rel+"?format="+f)
		}
	}
	return urls
}

// getAll asks for every url at once and returns the statuses.
func getAll(t *testing.T, base string, urls []string) []int {
	t.Helper()
	statuses := make([]int, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			resp, err := http.Get(base + u)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	return statuses
}

func sourceGets(g *testGateway, op string) float64 {
	return testutil.ToFloat64(g.srv.metrics.imageSourceGets.WithLabelValues(op))
}

// zipLike is a non-image body bigger than the probe reads.
func zipLike() []byte {
	b := make([]byte, 2<<20)
	copy(b, "PK\x03\x04")
	return b
}

// A non-image under a routed prefix, asked for as 12 variants at once: one
// GET, stopped after its first bytes, refuses it, nothing downloads it whole, and
// the refusal is remembered for that version of the object only.
func TestImageNonImageSourceProbedOnce(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	rel := putObject(t, "archive.bin", zipLike(), "application/octet-stream")
	urls := twelveVariants(rel)
	for i, st := range getAll(t, g.base, urls) {
		if st != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %d, want 415", urls[i], st)
		}
	}
	if r, f := sourceGets(g, "stopped"), sourceGets(g, "full"); r > 1 || f != 0 {
		t.Fatalf("12 variants of a non-image: %v stopped and %v full GETs, want at most 1 and 0", r, f)
	}
	getAll(t, g.base, urls)
	if r, f := sourceGets(g, "stopped"), sourceGets(g, "full"); r > 1 || f != 0 {
		t.Fatalf("asked again: %v stopped and %v full GETs in all, want the refusal remembered", r, f)
	}
	if n := testutil.ToFloat64(g.srv.metrics.imageSourcesRefused.WithLabelValues("cached")); n == 0 {
		t.Error("no refusal counted as cached")
	}

	// A new version (a real image now) is tried again.
	jpg, _ := demo.SampleJPEG(800, 600)
	in := putInput(demo.Bucket, "global/"+rel, jpg)
	in.ContentType = strPtr("application/octet-stream")
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	m, err := g.srv.store.Head(context.Background(), demo.Bucket, "global/"+rel)
	if err != nil {
		t.Fatal(err)
	}
	g.srv.heads.put(demo.Bucket, "global/"+rel, m) // as a HEAD refresh would
	if resp, body := get(t, g.base+urls[0]); resp.StatusCode != 200 {
		t.Fatalf("the new version: %d %s", resp.StatusCode, body)
	}
}

// What the HEAD already says is refused without any GET: a type that is
// not an image, a size over max_source_bytes.
func TestImageSourceRefusedFromHEAD(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.MaxSourceBytes = 1 << 20 }))
	jpg, _ := demo.SampleJPEG(800, 600)
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		status      int
	}{
		{"zip", "application/zip", zipLike()[:1000], http.StatusUnsupportedMediaType},
		{"text", "text/plain; charset=utf-8", []byte("hello"), http.StatusUnsupportedMediaType},
		{"over max_source_bytes", "image/jpeg", append(append([]byte{}, jpg...), make([]byte, 2<<20)...), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel := putObject(t, "src.bin", tc.body, tc.ctype)
			resp, body := get(t, g.base+"/img/thumbnail/"+rel)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, body)
			}
		})
	}
	if r, f := sourceGets(g, "stopped"), sourceGets(g, "full"); r != 0 || f != 0 {
		t.Fatalf("%v stopped and %v full GETs, want none", r, f)
	}
}

// A real image (over the probe size) asked for as 12 variants at once is
// downloaded once, with one GET.
func TestImageSourceDownloadCoalesced(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages())
	jpg, _ := demo.SampleJPEG(1280, 720)
	if len(jpg) <= probeBytes {
		t.Fatalf("sample of %d bytes: want one over the %d-byte probe", len(jpg), probeBytes)
	}
	rel := putObject(t, "photo.jpg", jpg, "image/jpeg")
	urls := twelveVariants(rel)
	for i, st := range getAll(t, g.base, urls) {
		if st != 200 {
			t.Errorf("%s: %d", urls[i], st)
		}
	}
	// One GET in all: the header is probed from the first bytes of the
	// same GET that reads the rest (no ranged GET before it).
	if f, s, r := sourceGets(g, "full"), sourceGets(g, "stopped"), sourceGets(g, "range"); f != 1 || s != 0 || r != 0 {
		t.Fatalf("12 variants at once: %v full, %v stopped, %v ranged GETs, want 1 GET in all", f, s, r)
	}
}

// Past the budget of source bytes in flight: 429 with Retry-After.
func TestImageSourceBytesBudget(t *testing.T) {
	g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) {
		c.SourceBytesInFlight = 1 << 20
		c.MaxQueue = 0
	}))
	jpg, _ := demo.SampleJPEG(800, 600)
	rel := putObject(t, "photo.jpg", jpg, "image/jpeg")
	hold, err := g.srv.sourceBudget.Acquire(context.Background(), 1024) // the whole budget, in KiB
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, g.base+"/img/thumbnail/"+rel)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d Retry-After %q: %.200q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := testutil.ToFloat64(g.srv.metrics.imageSourcesRefused.WithLabelValues("budget")); n != 1 {
		t.Errorf("refused{budget} = %v, want 1", n)
	}
	hold()
	if resp, body := get(t, g.base+"/img/thumbnail/"+rel); resp.StatusCode != 200 {
		t.Fatalf("after the budget is free: %d %s", resp.StatusCode, body)
	}
}
