package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// TestReqHeadersDuplicates: several X-Forwarded-For lines are one list,
// joined in order (RFC 9110 section 5.3, as nginx and net/http do); of a
// repeated single-valued header the last line wins.
func TestReqHeadersDuplicates(t *testing.T) {
	tests := []struct {
		name, head string
		key, want  string
	}{
		{"one xff line", "X-Forwarded-For: 1.1.1.1\r\n", geo.HeaderXForwardedFor, "1.1.1.1"},
		{"two xff lines joined", "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, 10.0.0.1\r\n", geo.HeaderXForwardedFor, "1.1.1.1, 2.2.2.2, 10.0.0.1"},
		{"three xff lines, other names between", "x-forwarded-for: a\r\nAccept: */*\r\nX-FORWARDED-FOR: b\r\nX-Forwarded-For: c\r\n", geo.HeaderXForwardedFor, "a, b, c"},
		{"country: last wins", "CloudFront-Viewer-Country: GB\r\nCloudFront-Viewer-Country: DE\r\n", geo.HeaderCloudFrontViewerCountry, "DE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			if err := h.Read(bufio.NewReader(strings.NewReader("GET /r/k HTTP/1.1\r\nHost: x\r\n" + tt.head + "\r\n"))); err != nil {
				t.Fatal(err)
			}
			var r reqHeaders
			for range 2 { // a second load reuses the join buffer
				r.load(&h)
				if got := string(r.Peek(tt.key)); got != tt.want {
					t.Fatalf("Peek(%s) = %q, want %q", tt.key, got, tt.want)
				}
				r.reset(nil)
			}
		})
	}
}

// One request with two X-Forwarded-For lines gets one region on /r/ (event
// loop and fasthttp) and on /img/: the lines are one list, Cairo then
// London, so the nearest untrusted address, London, is the client.
func TestDuplicateXFFSameRegionOnAllPaths(t *testing.T) {
	rules := demoRules(t)
	loops := startGateway(t, rules, withGeo(t), withImages())
	plain := startGateway(t, rules, withGeo(t), withImages(), func(c *Config) { c.EventLoops = -1 })
	xff := []string{ipCairo, ipLondon}
	do := func(url string, xff []string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["X-Forwarded-For"] = xff // one line each
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	for name, g := range map[string]*testGateway{"loops": loops, "fasthttp": plain} {
		resp, body := do(g.base+"/r/map-tiles.zip", xff, "Accept", "application/json")
		var a routeAnswer
		if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /r/: %d %s", name, resp.StatusCode, body)
		}
		if a.Region != "uk-london" || a.Key != "uk/london/map-tiles.zip" {
			t.Errorf("%s /r/: region %q key %q; want uk-london", name, a.Region, a.Key)
		}
	}
	// explain reads its header= lines the same way: the lines Cairo, then
	// a trusted proxy (loopback) are the list "Cairo, 127.0.0.2": Cairo.
	resp, body := get(t, loops.admin+"/debug/explain?key=map-tiles.zip&ip=127.0.0.1&header=X-Forwarded-For:+"+ipCairo+"&header=X-Forwarded-For:+127.0.0.2")
	var ex Explanation
	if err := json.Unmarshal(body, &ex); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("explain: %d %s", resp.StatusCode, body)
	}
	if ex.Region != "egypt-cairo" || ex.ClientIP != ipCairo {
		t.Errorf("explain with X-Forwarded-For lines %s and 127.0.0.2: region %q client %q; want egypt-cairo", ipCairo, ex.Region, ex.ClientIP)
	}
	// A source that exists only under London's prefix: found when /img/
	// decides London, 404 when it decides Cairo.
	img, err := os.ReadFile("testdata/images/large.jpg")
	if err != nil {
		t.Fatal(err)
	}
	rel := fmt.Sprintf("test-img/%s-%d/london.jpg", t.Name(), time.Now().UnixNano())
	in := putInput(demo.Bucket, "uk/london/"+rel, img)
	ct := "image/jpeg"
	in.ContentType = &ct
	if _, err := demo.Client(testenv.S3(t)).PutObject(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if resp, body := do(plain.base+"/img/thumbnail/"+rel, []string{ipCairo}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/img/ from Cairo: %d %s; want 404 (the source is London's only)", resp.StatusCode, body)
	}
	for name, g := range map[string]*testGateway{"loops": loops, "fasthttp": plain} {
		if resp, body := do(g.base+"/img/thumbnail/"+rel, xff); resp.StatusCode != http.StatusOK {
			t.Errorf("%s /img/ with X-Forwarded-For lines %q: %d %s; want 200 (London)", name, xff, resp.StatusCode, body)
		}
	}
}
