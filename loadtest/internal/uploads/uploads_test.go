package uploads

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/queue"
)

// Every envelope's body decodes, with the gateway's own decoder, to the
// upload it describes: keys with spaces, "+", "%" and non-ASCII survive
// S3's form encoding.
func TestBodyDecodesToTheUpload(t *testing.T) {
	keys := []string{"global/uploads/a.jpg", "global/uploads/my photo+1 100%.jpg", "global/café/日本 x.jpg"}
	kinds := map[string]queue.Kind{EnvelopeS3: queue.KindS3, EnvelopeSNS: queue.KindSNS, EnvelopeEventBridge: queue.KindEventBridge}
	for _, env := range Envelopes {
		for _, key := range keys {
			body, err := Body(env, Object{Region: "eu-west-1", Bucket: "b", Key: key, ETag: "abc", Size: 7, Time: time.Now(), Sequencer: "01"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := queue.Decode([]byte(body))
			if err != nil {
				t.Fatalf("%s %q: %v\n%s", env, key, err, body)
			}
			if m.Kind != kinds[env] || len(m.Records) != 1 {
				t.Fatalf("%s %q: kind %v, %d records", env, key, m.Kind, len(m.Records))
			}
			r := m.Records[0]
			if r.Key != key || r.Bucket != "b" || r.ETag != "abc" || !r.Created {
				t.Errorf("%s: decoded %+v, want key %q bucket b etag abc created", env, r, key)
			}
		}
	}
	if _, err := Body("lambda", Object{}); err == nil {
		t.Error("unknown envelope accepted")
	}
}

// fakeBucket lists its keys in pages of pageSize, like S3, and records
// every listing.
type fakeBucket struct {
	mu       sync.Mutex
	keys     []string
	pageSize int
	calls    []string // prefix|startAfter
}

func (b *fakeBucket) add(k ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = append(b.keys, k...)
	slices.Sort(b.keys)
}

func (b *fakeBucket) List(_ context.Context, prefix, after string) ([]string, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, prefix+"|"+after)
	var out []string
	for _, k := range b.keys {
		if strings.HasPrefix(k, prefix) && k > after {
			if len(out) == b.pageSize {
				return out, true, nil
			}
			out = append(out, k)
		}
	}
	return out, false, nil
}

func isDone(p *Pending) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// A message is done once every folder's variant is listed; listings
// start after the oldest variant still awaited and follow pages.
func TestWatcherSeesEveryVariant(t *testing.T) {
	l := Layout{Prefix: "global/up/run/", SourceExt: ".jpg", Folders: []string{"large/", "thumbnails/"}, VariantExt: ".jpg"}
	if got := l.Variant("large/", 12); got != "large/global/up/run/00000012.jpg.jpg" {
		t.Fatalf("variant key %q", got)
	}
	b := &fakeBucket{pageSize: 2}
	w := NewWatcher(b, l)
	var ps []*Pending
	for seq := range uint64(5) {
		ps = append(ps, w.Watch(seq))
	}
	// 0 complete; 1 half; 2..4 complete but for 3's thumbnail.
	b.add(l.Variant("large/", 0), l.Variant("thumbnails/", 0), l.Variant("large/", 1))
	for _, s := range []uint64{2, 3, 4} {
		b.add(l.Variant("large/", s))
		if s != 3 {
			b.add(l.Variant("thumbnails/", s))
		}
	}
	b.add("large/global/up/other/00000000.jpg.jpg") // another run: not listed
	w.Poll(context.Background())
	for seq, want := range []bool{true, false, true, false, true} {
		if isDone(ps[seq]) != want {
			t.Errorf("seq %d done %v, want %v", seq, !want, want)
		}
	}
	if at, all := w.Seen(ps[0]); !all || at.IsZero() {
		t.Errorf("seq 0: seen %v at %v", all, at)
	}
	b.calls = nil
	w.Poll(context.Background())
	// large/ awaits nothing: not listed; thumbnails/ from after seq 0.
	want := []string{"thumbnails/global/up/run/|" + l.Variant("thumbnails/", 0)}
	if !slices.Equal(b.calls, want) {
		t.Errorf("listings %q, want %q", b.calls, want)
	}
	b.add(l.Variant("thumbnails/", 3))
	w.Poll(context.Background())
	if !isDone(ps[3]) || isDone(ps[1]) {
		t.Errorf("seq 3 done %v (want true), seq 1 done %v (want false)", isDone(ps[3]), isDone(ps[1]))
	}
	if n := w.Forget(ps[1]); n != 1 {
		t.Errorf("seq 1 forgotten with %d missing, want 1", n)
	}
	b.calls = nil
	w.Poll(context.Background())
	if len(b.calls) != 0 {
		t.Errorf("listings %q with nothing awaited", b.calls)
	}
	n, err := Count(context.Background(), b, l, 5)
	if err != nil || n != 9 {
		t.Errorf("Count = %d, %v; want 9", n, err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Rate: 1, Count: 1, Layout: Layout{Folders: []string{"a/"}}, Source: []byte{1}}
	if err := ok.Validate(); err != nil || ok.Envelopes[0] != EnvelopeS3 || ok.Deadline != 30*time.Second {
		t.Fatalf("valid config: %v, %+v", err, ok)
	}
	for name, mod := range map[string]func(*Config){
		"rate":     func(c *Config) { c.Rate = 0 },
		"count":    func(c *Config) { c.Count = 0 },
		"envelope": func(c *Config) { c.Envelopes = []string{"x"} },
		"presets":  func(c *Config) { c.Layout.Folders = nil },
		"poison":   func(c *Config) { c.PoisonEvery = -1 },
	} {
		c := ok
		c.Envelopes = nil
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
	p := Config{PoisonEvery: 3}
	var poisoned []uint64
	for s := range uint64(7) {
		if p.isPoison(s) {
			poisoned = append(poisoned, s)
		}
	}
	if !slices.Equal(poisoned, []uint64{2, 5}) {
		t.Errorf("poison seqs %v, want [2 5]", poisoned)
	}
}
