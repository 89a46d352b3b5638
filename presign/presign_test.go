package presign

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/edgegate/edgegate/store"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// countingProvider hands out credentials from a function and counts calls.
type countingProvider struct {
	calls atomic.Int64
	fn    func(n int64) (aws.Credentials, error)
}

func (p *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return p.fn(p.calls.Add(1))
}

func staticProvider(ak, sk, tok string) *countingProvider {
	return &countingProvider{fn: func(int64) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk, SessionToken: tok}, nil
	}}
}

// buckets returns a store.Store-like bucket lookup: the named buckets, or
// AWS us-east-1 virtual-hosted defaults.
func buckets(bs ...store.Bucket) func(string) *store.Bucket {
	m := map[string]*store.Bucket{}
	for i := range bs {
		m[bs[i].Name] = &bs[i]
	}
	return func(name string) *store.Bucket {
		if b, ok := m[name]; ok {
			return b
		}
		return &store.Bucket{Name: name, Region: "us-east-1"}
	}
}

func newTestSigner(t *testing.T, cfg Config, p aws.CredentialsProvider, bs ...store.Bucket) *Signer {
	t.Helper()
	s, err := newSigner(buckets(bs...), p, cfg)
	if err != nil {
		t.Fatalf("newSigner: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustSign(t testing.TB, s *Signer, req Request) URL {
	t.Helper()
	u, err := s.Sign(context.Background(), req)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", req, err)
	}
	return u
}

// query parses the query of a signed URL.
func query(t testing.TB, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{"zero value is valid", Config{}, ""},
		{"explicit values", Config{Window: 5 * time.Minute, CacheEntries: 10, CredentialRefresh: time.Minute}, ""},
		{"window below 1s", Config{Window: 500 * time.Millisecond}, "window"},
		{"window not whole seconds", Config{Window: 1500 * time.Millisecond}, "window"},
		{"window above max", Config{Window: 2 * time.Hour}, "window"},
		{"negative window", Config{Window: -time.Second}, "window"},
		{"negative cache entries", Config{CacheEntries: -1}, "cache_entries"},
		{"negative refresh", Config{CredentialRefresh: -time.Second}, "credential_refresh"},
		{"cloudfront key without file", Config{CloudFront: CloudFrontConfig{Keys: []CloudFrontKey{{ID: "K1", Active: true}}}}, "private_key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "presign: ") {
				t.Fatalf("Validate() = %v, want a presign: error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := newSigner(buckets(), staticProvider("", "", ""), Config{}); err == nil {
		t.Error("anonymous credentials accepted")
	}
	boom := errors.New("boom")
	_, err := newSigner(buckets(), &countingProvider{fn: func(int64) (aws.Credentials, error) { return aws.Credentials{}, boom }}, Config{})
	if !errors.Is(err, boom) {
		t.Errorf("provider failure: got %v, want it wrapped", err)
	}
	if _, err := newSigner(buckets(), staticProvider("a", "b", ""), Config{Window: time.Millisecond}); err == nil {
		t.Error("invalid config accepted")
	}
	if _, err := New(nil, Config{}); err == nil {
		t.Error("nil store accepted")
	}
}

func TestSignWindowAligned(t *testing.T) {
	start := time.Date(2025, 3, 10, 12, 34, 0, 0, time.UTC) // a window start (60s windows)
	clk := newFakeClock(start.Add(17 * time.Second))
	s := newTestSigner(t, Config{Now: clk.now}, staticProvider("AKID", "secret", ""))
	req := Request{Bucket: "edge-demo", Key: "uk/london/map-tiles.zip", TTL: time.Hour}

	first := mustSign(t, s, req)
	q := query(t, first.URL)
	if got := q.Get("X-Amz-Date"); got != "20250310T123400Z" {
		t.Errorf("X-Amz-Date = %s, want the window start 20250310T123400Z", got)
	}
	if got := q.Get("X-Amz-Expires"); got != "3660" {
		t.Errorf("X-Amz-Expires = %s, want TTL+window = 3660", got)
	}
	if want := start.Add(time.Hour + time.Minute); !first.Expires.Equal(want) {
		t.Errorf("Expires = %s, want %s", first.Expires, want)
	}

	// Everywhere in the window: the identical URL, valid ≥ TTL from now.
	for _, off := range []time.Duration{0, time.Second, 59*time.Second + 999*time.Millisecond} {
		clk.set(start.Add(off))
		u := mustSign(t, s, req)
		if u != first {
			t.Errorf("at +%s: got %s, want the window's URL %s", off, u.URL, first.URL)
		}
		if left := u.Expires.Sub(clk.now()); left < req.TTL {
			t.Errorf("at +%s: valid for %s only, want ≥ TTL %s", off, left, req.TTL)
		}
	}
	if st := s.CacheStats(); st.Loads != 1 {
		t.Errorf("cache loads = %d, want 1 signature for the whole window", st.Loads)
	}

	// Next window: a new URL stamped with its start.
	clk.set(start.Add(time.Minute))
	next := mustSign(t, s, req)
	if next.URL == first.URL {
		t.Fatal("same URL in the next window")
	}
	if got := query(t, next.URL).Get("X-Amz-Date"); got != "20250310T123500Z" {
		t.Errorf("next window X-Amz-Date = %s, want 20250310T123500Z", got)
	}

	// The cache key includes TTL and overrides.
	for _, other := range []Request{
		{Bucket: req.Bucket, Key: req.Key, TTL: 2 * time.Hour},
		{Bucket: req.Bucket, Key: req.Key, TTL: req.TTL, ContentType: "text/plain"},
		{Bucket: req.Bucket, Key: req.Key, TTL: req.TTL, ContentDisposition: "attachment"},
		{Bucket: "other-bucket", Key: req.Key, TTL: req.TTL},
		{Bucket: req.Bucket, Key: req.Key + "x", TTL: req.TTL},
	} {
		if u := mustSign(t, s, other); u.URL == next.URL {
			t.Errorf("%+v got the URL of %+v", other, req)
		}
	}
}

func TestSignWindowSizes(t *testing.T) {
	tests := []struct {
		window   time.Duration
		now      time.Time
		wantDate string
	}{
		{time.Second, time.Date(2025, 1, 2, 3, 4, 5, 900e6, time.UTC), "20250102T030405Z"},
		{5 * time.Minute, time.Date(2025, 1, 2, 3, 9, 59, 0, time.UTC), "20250102T030500Z"},
		{time.Hour, time.Date(2025, 1, 2, 3, 59, 59, 0, time.UTC), "20250102T030000Z"},
		{7 * time.Second, time.Unix(20, 0), "19700101T000014Z"},
	}
	for _, tt := range tests {
		t.Run(tt.window.String(), func(t *testing.T) {
			clk := newFakeClock(tt.now)
			s := newTestSigner(t, Config{Window: tt.window, Now: clk.now}, staticProvider("AKID", "secret", ""))
			u := mustSign(t, s, Request{Bucket: "b12", Key: "k", TTL: 10 * time.Minute})
			q := query(t, u.URL)
			if got := q.Get("X-Amz-Date"); got != tt.wantDate {
				t.Errorf("X-Amz-Date = %s, want %s", got, tt.wantDate)
			}
			if want := strconv.Itoa(int((10*time.Minute + tt.window) / time.Second)); q.Get("X-Amz-Expires") != want {
				t.Errorf("X-Amz-Expires = %s, want %s", q.Get("X-Amz-Expires"), want)
			}
		})
	}
}

func TestSignExpiryCaps(t *testing.T) {
	now := time.Date(2025, 6, 1, 10, 0, 30, 0, time.UTC)
	start := now.Truncate(time.Minute)
	tests := []struct {
		name        string
		ttl         time.Duration
		creds       aws.Credentials
		wantExpires int64 // X-Amz-Expires; 0 = want an error
		wantErr     error
	}{
		{"ttl plus window", time.Hour, aws.Credentials{}, 3660, nil},
		{"sub-second ttl rounds up", 1500 * time.Millisecond, aws.Credentials{}, 62, nil},
		{"7 days is capped, window included", MaxTTL, aws.Credentials{}, 604800, nil},
		{"just under 7 days is capped too", MaxTTL - 30*time.Second, aws.Credentials{}, 604800, nil},
		{"7 days minus window fits", MaxTTL - time.Minute, aws.Credentials{}, 604800, nil},
		{"over 7 days is refused", MaxTTL + time.Second, aws.Credentials{}, 0, ErrTTL},
		{"zero ttl is refused", 0, aws.Credentials{}, 0, ErrTTL},
		{"negative ttl is refused", -time.Second, aws.Credentials{}, 0, ErrTTL},
		{"temporary credentials cap the expiry", time.Hour,
			aws.Credentials{CanExpire: true, Expires: start.Add(20 * time.Minute)}, 1200, nil},
		{"temporary credentials that outlive the URL do not", time.Hour,
			aws.Credentials{CanExpire: true, Expires: start.Add(3 * time.Hour)}, 3660, nil},
		{"lapsed credentials are refused", time.Hour,
			aws.Credentials{CanExpire: true, Expires: now.Add(-time.Second)}, 0, ErrCredentialsExpired},
		{"credentials lapsing exactly now are refused", time.Hour,
			aws.Credentials{CanExpire: true, Expires: now}, 0, ErrCredentialsExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(now)
			creds := tt.creds
			creds.AccessKeyID, creds.SecretAccessKey = "AKID", "secret"
			if creds.CanExpire {
				creds.SessionToken = "token"
			}
			s := newTestSigner(t, Config{Now: clk.now, CredentialRefresh: time.Nanosecond},
				&countingProvider{fn: func(int64) (aws.Credentials, error) { return creds, nil }})
			u, err := s.Sign(context.Background(), Request{Bucket: "b12", Key: "k", TTL: tt.ttl})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Sign: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			q := query(t, u.URL)
			if got := q.Get("X-Amz-Expires"); got != strconv.FormatInt(tt.wantExpires, 10) {
				t.Errorf("X-Amz-Expires = %s, want %d", got, tt.wantExpires)
			}
			if want := start.Add(time.Duration(tt.wantExpires) * time.Second); !u.Expires.Equal(want) {
				t.Errorf("Expires = %s, want %s (X-Amz-Date + X-Amz-Expires)", u.Expires, want)
			}
			if creds.CanExpire && q.Get("X-Amz-Security-Token") != "token" {
				t.Errorf("session token missing from %s", u.URL)
			}
		})
	}
}

// A URL is cached until it expires. Temporary credentials about to lapse
// can make it expire (whole seconds after the window start) as it is
// signed, or before: then it is handed out but not cached, so that the
// next Sign signs afresh (with refreshed credentials, in real life).
func TestSignNotCachedWhenAlreadyExpired(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC) // a window start
	for _, tt := range []struct {
		name      string
		now       time.Duration // after start
		credsLeft time.Duration // credentials' lifetime after now
		wantLoads uint64
	}{
		{"expires later: cached", 30 * time.Second, 20 * time.Second, 1},
		{"expires as signed: not cached", 30 * time.Second, 500 * time.Millisecond, 2},
		{"expired when signed: not cached", 30*time.Second + 700*time.Millisecond, 100 * time.Millisecond, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := start.Add(tt.now)
			creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token",
				CanExpire: true, Expires: now.Add(tt.credsLeft)}
			s := newTestSigner(t, Config{Now: newFakeClock(now).now},
				&countingProvider{fn: func(int64) (aws.Credentials, error) { return creds, nil }})
			req := Request{Bucket: "b12", Key: "k", TTL: time.Hour}
			first, second := mustSign(t, s, req), mustSign(t, s, req)
			if first != second {
				t.Errorf("same instant, different URLs: %s, %s", first.URL, second.URL)
			}
			if st := s.CacheStats(); st.Loads != tt.wantLoads {
				t.Errorf("URL expires %s after now; signatures = %d, want %d", first.Expires.Sub(now), st.Loads, tt.wantLoads)
			}
		})
	}
}

// Just before midnight UTC the scope date is the old day, one window later
// the new one: the signing-key cache must switch keys with the date, and
// both URLs must be what the SDK produces.
func TestSignAcrossMidnight(t *testing.T) {
	clk := newFakeClock(time.Date(2025, 12, 31, 23, 59, 59, 999e6, time.UTC))
	s := newTestSigner(t, Config{Now: clk.now}, staticProvider("AKID", "secret", ""))
	req := Request{Bucket: "edge-demo", Key: "a b/ü", TTL: time.Hour}
	for _, step := range []struct {
		advance time.Duration
		date    string
	}{
		{0, "20251231T235900Z"},
		{time.Millisecond, "20260101T000000Z"}, // exactly midnight
		{59 * time.Second, "20260101T000000Z"},
		{-90 * time.Second, "20251231T235900Z"}, // a late signer still in the old day
	} {
		clk.advance(step.advance)
		u := mustSign(t, s, req)
		q := query(t, u.URL)
		if got := q.Get("X-Amz-Date"); got != step.date {
			t.Fatalf("at %s: X-Amz-Date = %s, want %s", clk.now().UTC(), got, step.date)
		}
		if !strings.Contains(q.Get("X-Amz-Credential"), "/"+step.date[:8]+"/") {
			t.Errorf("credential scope %s is not of day %s", q.Get("X-Amz-Credential"), step.date[:8])
		}
		at, _ := time.Parse("20060102T150405Z", step.date)
		want, err := sdkPresign(signCase{bucket: req.Bucket, key: req.Key, region: "us-east-1",
			accessKey: "AKID", secret: "secret", at: at, expires: 3660})
		if err != nil {
			t.Fatal(err)
		}
		if u.URL != want {
			t.Errorf("at %s:\n got %s\nwant %s", clk.now().UTC(), u.URL, want)
		}
	}
	cs := s.creds.Load()
	cs.keys.mu.Lock()
	n := len(cs.keys.keys)
	cs.keys.mu.Unlock()
	if n != 2 {
		t.Errorf("signing keys cached = %d, want 2 (one per day, derived once each)", n)
	}
}

func TestSignAddressing(t *testing.T) {
	tests := []struct {
		name   string
		bucket store.Bucket
		key    string
		prefix string // the URL up to '?'
	}{
		{"AWS virtual-hosted", store.Bucket{Name: "edge-demo", Region: "eu-west-1"}, "a/b.zip",
			"https://edge-demo.s3.eu-west-1.amazonaws.com/a/b.zip"},
		{"AWS path-style", store.Bucket{Name: "edge-demo", Region: "eu-west-1", PathStyle: true}, "a/b.zip",
			"https://s3.eu-west-1.amazonaws.com/edge-demo/a/b.zip"},
		{"AWS dotted bucket falls back to path-style over TLS", store.Bucket{Name: "my.bucket", Region: "us-east-1"}, "k",
			"https://s3.us-east-1.amazonaws.com/my.bucket/k"},
		{"AWS China partition", store.Bucket{Name: "edge-demo", Region: "cn-north-1"}, "k",
			"https://edge-demo.s3.cn-north-1.amazonaws.com.cn/k"},
		{"custom endpoint path-style", store.Bucket{Name: "edge-demo", Region: "us-east-1", Endpoint: "http://127.0.0.1:7070", PathStyle: true}, "k",
			"http://127.0.0.1:7070/edge-demo/k"},
		{"custom endpoint virtual-hosted", store.Bucket{Name: "edge-demo", Region: "auto", Endpoint: "https://r2.example.com"}, "k",
			"https://edge-demo.r2.example.com/k"},
		{"key escaping", store.Bucket{Name: "edge-demo", Region: "us-east-1"}, "dir/a b+c~d€",
			"https://edge-demo.s3.us-east-1.amazonaws.com/dir/a%20b%2Bc~d%E2%82%AC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSigner(t, Config{}, staticProvider("AKID", "secret", ""), tt.bucket)
			u := mustSign(t, s, Request{Bucket: tt.bucket.Name, Key: tt.key, TTL: time.Minute})
			got, _, _ := strings.Cut(u.URL, "?")
			if got != tt.prefix {
				t.Errorf("URL = %s, want %s?...", u.URL, tt.prefix)
			}
			if !strings.Contains(u.URL, "%2F"+tt.bucket.Region+"%2Fs3%2F") {
				t.Errorf("URL %s not scoped to region %s", u.URL, tt.bucket.Region)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	s := newTestSigner(t, Config{}, staticProvider("AKID", "secret", ""))
	for _, tt := range []struct {
		req  Request
		want error
	}{
		{Request{Bucket: "b12", Key: "", TTL: time.Minute}, ErrKey},
		{Request{Bucket: "", Key: "k", TTL: time.Minute}, ErrBucket},
		{Request{Bucket: "a b", Key: "k", TTL: time.Minute}, ErrBucket},
		{Request{Bucket: "b12", Key: "k"}, ErrTTL},
	} {
		if _, err := s.Sign(context.Background(), tt.req); !errors.Is(err, tt.want) {
			t.Errorf("Sign(%+v) = %v, want %v", tt.req, err, tt.want)
		}
	}
}

func TestSignOverrides(t *testing.T) {
	s := newTestSigner(t, Config{}, staticProvider("AKID", "secret", ""))
	u := mustSign(t, s, Request{Bucket: "b12", Key: "doc.pdf", TTL: time.Minute,
		ContentDisposition: `attachment; filename="a b.pdf"`, ContentType: "application/pdf"})
	if !strings.Contains(u.URL, "&response-content-disposition=attachment%3B%20filename%3D%22a%20b.pdf%22&response-content-type=application%2Fpdf&X-Amz-Signature=") {
		t.Errorf("overrides missing or misencoded in %s", u.URL)
	}
	plain := mustSign(t, s, Request{Bucket: "b12", Key: "doc.pdf", TTL: time.Minute})
	if strings.Contains(plain.URL, "response-") {
		t.Errorf("unset overrides appear in %s", plain.URL)
	}
}

func TestSignCachedAllocatesNothing(t *testing.T) {
	s := newTestSigner(t, Config{Window: time.Hour}, staticProvider("AKID", "secret", ""))
	ctx := context.Background()
	req := Request{Bucket: "edge-demo", Key: "uk/london/map-tiles.zip", TTL: time.Hour, ContentType: "application/zip"}
	cdn := CDNRequest{Base: "https://cdn.example.com/tiles", Key: "uk/london/map-tiles.zip", TTL: time.Hour}
	mustSign(t, s, req)
	if _, err := s.SignCDN(ctx, cdn); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Sign(ctx, req) }); n != 0 {
		t.Errorf("cached Sign allocates %.1f times, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.SignCDN(ctx, cdn) }); n != 0 {
		t.Errorf("cached SignCDN allocates %.1f times, want 0", n)
	}
}

// Many goroutines sign while the clock crosses window boundaries: every
// URL must carry the date of the window it was signed in, and all URLs of
// one window must be identical. Run with -race.
func TestSignConcurrentAcrossWindows(t *testing.T) {
	start := time.Date(2025, 6, 1, 23, 58, 0, 0, time.UTC)
	clk := newFakeClock(start.Add(59 * time.Second))
	s := newTestSigner(t, Config{Now: clk.now}, staticProvider("AKID", "secret", ""))
	req := Request{Bucket: "edge-demo", Key: "global/banner.json", TTL: time.Minute}

	var mu sync.Mutex
	byDate := map[string]map[string]bool{} // X-Amz-Date → URLs seen
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := s.windowStart(clk.now())
				u, err := s.Sign(context.Background(), req)
				after := s.windowStart(clk.now())
				if err != nil {
					t.Error(err)
					return
				}
				q, _ := url.ParseQuery(u.URL[strings.IndexByte(u.URL, '?')+1:])
				d, _ := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
				if w := d.Unix(); w != before && w != after {
					t.Errorf("URL of window %d signed between windows %d and %d", w, before, after)
				}
				mu.Lock()
				if byDate[q.Get("X-Amz-Date")] == nil {
					byDate[q.Get("X-Amz-Date")] = map[string]bool{}
				}
				byDate[q.Get("X-Amz-Date")][u.URL] = true
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 200; i++ {
		clk.advance(time.Second) // crosses 3 window boundaries, midnight included
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	if len(byDate) < 3 {
		t.Errorf("saw %d windows, want ≥ 3", len(byDate))
	}
	for d, urls := range byDate {
		if len(urls) != 1 {
			t.Errorf("window %s produced %d different URLs, want 1", d, len(urls))
		}
	}
}

// Temporary credentials are replaced in the background before they
// expire; Sign never calls the provider.
func TestCredentialRefresh(t *testing.T) {
	refreshed := make(chan error, 10)
	release := make(chan struct{}) // holds the refresh inside the provider
	p := &countingProvider{fn: func(n int64) (aws.Credentials, error) {
		if n >= 2 {
			<-release
		}
		return aws.Credentials{
			AccessKeyID: "AKID" + strconv.FormatInt(n, 10), SecretAccessKey: "secret", SessionToken: "tok",
			CanExpire: true, Expires: time.Now().Add(time.Hour + time.Duration(n-1)*time.Hour),
		}, nil
	}}
	// Refresh when less than 1h - 150ms remains: ~150ms after start.
	s := newTestSigner(t, Config{Window: time.Second, CredentialRefresh: time.Hour - 150*time.Millisecond,
		OnCredentialRefresh: func(err error) { refreshed <- err }}, p)
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	req := Request{Bucket: "b12", Key: "k", TTL: 2 * time.Hour}
	u := mustSign(t, s, req)
	if got := query(t, u.URL).Get("X-Amz-Credential"); !strings.HasPrefix(got, "AKID1/") {
		t.Fatalf("first credentials not used: %s", got)
	}
	if left := time.Until(u.Expires); left > time.Hour {
		t.Errorf("URL outlives its credentials: valid %s more", left)
	}
	// Wait for the background refresh to be inside the provider, held there.
	for deadline := time.Now().Add(5 * time.Second); p.calls.Load() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("credentials not refreshed in the background")
		}
	}
	// Requests meanwhile sign at once with the credentials they have:
	// never on the provider, never waiting for it.
	bad := make(chan string, 100)
	go func() {
		defer close(bad)
		for i := range 100 {
			u, err := s.Sign(context.Background(), Request{Bucket: "b12", Key: "k" + strconv.Itoa(i), TTL: time.Minute})
			if err != nil {
				bad <- err.Error()
			} else if pu, err := url.Parse(u.URL); err != nil {
				bad <- err.Error()
			} else if got := pu.Query().Get("X-Amz-Credential"); !strings.HasPrefix(got, "AKID1/") {
				bad <- got
			}
		}
	}()
	select {
	case <-time.After(5 * time.Second):
		t.Fatal("signing waited for the credential refresh")
	case msg, ok := <-bad:
		if ok {
			t.Fatalf("signing during the refresh: %s, want AKID1 credentials", msg)
		}
	}
	close(release)
	released = true
	select {
	case err := <-refreshed:
		if err != nil {
			t.Fatalf("refresh failed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("refresh did not finish")
	}
	u = mustSign(t, s, Request{Bucket: "b12", Key: "fresh", TTL: time.Minute})
	if got := query(t, u.URL).Get("X-Amz-Credential"); !strings.HasPrefix(got, "AKID2/") {
		t.Errorf("refreshed credentials not used: %s", got)
	}
	s.Close()
	if n := p.calls.Load(); n != 2 {
		t.Errorf("provider called %d times, want 2", n)
	}
}

// A failing refresh is retried; the old credentials keep signing meanwhile.
func TestCredentialRefreshRetries(t *testing.T) {
	refreshed := make(chan error, 10)
	boom := errors.New("sts down")
	p := &countingProvider{fn: func(n int64) (aws.Credentials, error) {
		if n == 2 {
			return aws.Credentials{}, boom
		}
		return aws.Credentials{AccessKeyID: "AKID" + strconv.FormatInt(n, 10), SecretAccessKey: "s",
			CanExpire: true, Expires: time.Now().Add(time.Hour * time.Duration(n))}, nil
	}}
	s := newTestSigner(t, Config{CredentialRefresh: time.Hour - 50*time.Millisecond,
		OnCredentialRefresh: func(err error) { refreshed <- err }}, p)
	if err := <-refreshed; !errors.Is(err, boom) {
		t.Fatalf("first refresh: %v, want %v", err, boom)
	}
	u := mustSign(t, s, Request{Bucket: "b12", Key: "k", TTL: time.Minute})
	if got := query(t, u.URL).Get("X-Amz-Credential"); !strings.HasPrefix(got, "AKID1/") {
		t.Errorf("old credentials not kept after a failed refresh: %s", got)
	}
	select {
	case err := <-refreshed:
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("failed refresh not retried")
	}
	u = mustSign(t, s, Request{Bucket: "b12", Key: "k2", TTL: time.Minute})
	if got := query(t, u.URL).Get("X-Amz-Credential"); !strings.HasPrefix(got, "AKID3/") {
		t.Errorf("retried credentials not used: %s", got)
	}
}

func TestClose(t *testing.T) {
	p := &countingProvider{fn: func(int64) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
	}}
	s, err := newSigner(buckets(), p, Config{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Close(); s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the refresher")
	}
	if _, err := s.Sign(context.Background(), Request{Bucket: "b12", Key: "k", TTL: time.Minute}); !errors.Is(err, ErrClosed) {
		t.Errorf("Sign after Close = %v, want ErrClosed", err)
	}
}
