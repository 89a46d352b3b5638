// Command variantattack puts hostile and large image sources under a routed
// prefix and asks the gateway for many variants of them at once, sampling
// the gateway's memory meanwhile (issue 12, defect 1 and the memory goal).
// scripts/bench-capacity.sh runs it.
//
//	variantattack seed -endpoint http://127.0.0.1:7070 [-images 20] [-cache DIR]
//	variantattack run  -addr HOST:PORT -admin HOST:PORT -pid PID [-d 60s] [-conns 64] [-sources zip,fake,jpeg]
//
// seed uploads to the demo bucket, under global/attack/ (the demo routes
// every key to global/ for clients with no region): big.zip (30 MiB,
// application/zip), fake.jpg (30 MiB of random bytes after a JPEG
// header, application/octet-stream) and img-00.jpg … (-images distinct
// 5472×3648 = 20 MP JPEGs, image/jpeg, kept in -cache between runs).
//
// run asks for each source's 12 variants (thumbnail, medium, large ×
// ?format=jpeg, webp, avif, png) one source after the other, over and over
// for -d, from -conns keep-alive connections, so a source's 12 variants are
// in flight together and the sources follow one another (-sources: which of
// zip, fake and jpeg, the 20 JPEGs). Every second it samples the gateway's
// VmRSS, Go heap in use and image metrics. It prints the answers by
// status, and the baseline, peak and last RSS; it exits 1 if any answer is
// a 5xx or fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
)

const prefix = "global/attack/"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: variantattack seed|run [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("variantattack "+os.Args[1], flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:7070", "S3 endpoint (seed)")
	images := fs.Int("images", 20, "distinct 20 MP JPEGs")
	cache := fs.String("cache", ".data/bench-capacity", "directory keeping the generated JPEGs (seed)")
	addr := fs.String("addr", "127.0.0.1:8080", "public `host:port` (run)")
	admin := fs.String("admin", "127.0.0.1:9090", "admin `host:port` (run)")
	pid := fs.Int("pid", 0, "gateway process whose VmRSS to sample (run)")
	d := fs.Duration("d", 60*time.Second, "how long to attack (run)")
	conns := fs.Int("conns", 64, "concurrent connections (run)")
	kinds := fs.String("sources", "zip,fake,jpeg", "comma-separated kinds of source to ask for: zip, fake, jpeg (run)")
	_ = fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "seed":
		err = seed(*endpoint, *images, *cache)
	case "run":
		err = run(*addr, *admin, *pid, sources(*images, *kinds), *d, *conns)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "variantattack:", err)
		os.Exit(1)
	}
}

// sources names the objects of the given kinds under prefix.
func sources(images int, kinds string) []string {
	var s []string
	for k := range strings.SplitSeq(kinds, ",") {
		switch k {
		case "zip":
			s = append(s, "big.zip")
		case "fake":
			s = append(s, "fake.jpg")
		case "jpeg":
			for i := range images {
				s = append(s, fmt.Sprintf("img-%02d.jpg", i))
			}
		}
	}
	return s
}

func seed(endpoint string, images int, cache string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := demo.Client(endpoint)
	if err := demo.Seed(ctx, c, demo.Bucket); err != nil {
		return err
	}
	put := func(key, typ string, body []byte) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(prefix + key),
			ContentType: aws.String(typ), Body: bytes.NewReader(body)})
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		return nil
	}
	junk := make([]byte, 30<<20)
	_, _ = rand.Read(junk)
	copy(junk, "PK\x03\x04")
	if err := put("big.zip", "application/zip", junk); err != nil {
		return err
	}
	copy(junk, "\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	if err := put("fake.jpg", "application/octet-stream", junk); err != nil {
		return err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, images)
	sem := make(chan struct{}, 2)
	for i := range images {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("img-%02d.jpg", i)
			file := filepath.Join(cache, name)
			b, err := os.ReadFile(file)
			if err != nil {
				if b, err = photo(i); err == nil {
					err = os.WriteFile(file, b, 0o644)
				}
			}
			if err == nil {
				err = put(name, "image/jpeg", b)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Printf("seeded %s: big.zip, fake.jpg (30 MiB each), %d 20 MP JPEGs\n", prefix, images)
	return nil
}

// photo draws a 5472×3648 test card that differs with i, with a little
// noise so that it compresses about as a photograph does.
func photo(i int) ([]byte, error) {
	const w, h = 5472, 3648
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := mrand.New(mrand.NewPCG(uint64(i), 12))
	cx, cy := float64(w)*(0.3+0.02*float64(i)), float64(h)/2
	period := 12 + float64(i)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			ring := 127 + 120*math.Sin(math.Sqrt(dx*dx+dy*dy)/period)
			n := rng.IntN(24)
			img.SetRGBA(x, y, color.RGBA{R: uint8(200*x/w + n), G: uint8(int(ring) + n/3), B: uint8(200*y/h + 24 - n), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sample is one second's reading of the gateway.
type sample struct {
	rss, heapMiB                 float64 // MiB
	megapixels, cacheMiB, s3Gets float64
}

func run(addr, admin string, pid int, srcs []string, d time.Duration, conns int) error {
	if len(srcs) == 0 {
		return errors.New("-sources names no kind of source (zip, fake, jpeg)")
	}
	var urls []string
	for _, src := range srcs {
		for _, p := range []string{"thumbnail", "medium", "large"} {
			for _, f := range []string{"jpeg", "webp", "avif", "png"} {
				urls = append(urls, "http://"+addr+"/img/"+p+"/attack/"+src+"?format="+f)
			}
		}
	}
	base := read(pid, admin)
	fmt.Printf("baseline: rss=%.0fMiB go_heap_inuse=%.0fMiB image_cache=%.1fMiB\n", base.rss, base.heapMiB, base.cacheMiB)
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	cl := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	jobs := make(chan string)
	go func() {
		defer close(jobs)
		for {
			for _, u := range urls {
				select {
				case jobs <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	var mu sync.Mutex
	status := map[string]int{}
	var sent, fails atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for u := range jobs {
				sent.Add(1)
				resp, err := cl.Get(u)
				key := ""
				if err != nil {
					fails.Add(1)
					key = "error"
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					kind := "jpeg"
					if strings.Contains(u, "/big.zip") {
						kind = "zip"
					} else if strings.Contains(u, "/fake.jpg") {
						kind = "fake"
					}
					key = kind + " " + strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				status[key]++
				mu.Unlock()
			}
		})
	}
	var samples []sample
	tick := time.NewTicker(time.Second)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			s := read(pid, admin)
			samples = append(samples, s)
			fmt.Printf("t=%ds rss=%.0fMiB go_heap_inuse=%.0fMiB megapixels_in_use=%.0f image_cache=%.1fMiB source_gets=%.0f sent=%d\n",
				len(samples), s.rss, s.heapMiB, s.megapixels, s.cacheMiB, s.s3Gets, sent.Load())
		}
	}
	tick.Stop()
	last := read(pid, admin)
	peak := last
	for _, s := range samples {
		peak.rss = max(peak.rss, s.rss)
		peak.megapixels = max(peak.megapixels, s.megapixels)
		peak.cacheMiB = max(peak.cacheMiB, s.cacheMiB)
		peak.heapMiB = max(peak.heapMiB, s.heapMiB)
	}
	keys := make([]string, 0, len(status))
	for k := range status {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	bad := fails.Load()
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, status[k]))
		if strings.Contains(k, " 5") {
			bad += int64(status[k])
		}
	}
	fmt.Printf("answers (%d): %s\n", sent.Load(), strings.Join(parts, ", "))
	fmt.Printf("rss: baseline %.0f MiB, peak %.0f MiB (+%.0f), last %.0f MiB; Go heap in use: baseline %.0f, peak %.0f MiB; peak megapixels in use %.0f; peak image cache %.1f MiB; source GETs %.0f\n",
		base.rss, peak.rss, peak.rss-base.rss, last.rss, base.heapMiB, peak.heapMiB, peak.megapixels, peak.cacheMiB, last.s3Gets-base.s3Gets)
	fmt.Printf("refused sources: %s\n", metricLines(admin, "edgegate_image_sources_refused_total"))
	if bad > 0 {
		return fmt.Errorf("%d answers were 5xx or failed", bad)
	}
	return nil
}

func read(pid int, admin string) sample {
	var s sample
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				s.rss = kb / 1024
			}
		}
	}
	m := scrape(admin)
	s.megapixels = m["edgegate_image_admission_megapixels_in_use"]
	s.cacheMiB = m["edgegate_image_cache_bytes"] / (1 << 20)
	s.heapMiB = m["go_memstats_heap_inuse_bytes"] / (1 << 20)
	for k, v := range m {
		if strings.HasPrefix(k, "edgegate_image_source_gets_total") {
			s.s3Gets += v
		}
	}
	return s
}

// scrape reads the admin /metrics into name{labels} → value.
func scrape(admin string) map[string]float64 {
	m := map[string]float64{}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + admin + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
				m[l[:i]] = v
			}
		}
	}
	return m
}

func metricLines(admin, name string) string {
	m := scrape(admin)
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, name) {
			out = append(out, fmt.Sprintf("%s=%.0f", strings.TrimPrefix(k, name), v))
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
