package accesslog

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sampleEntry() *Entry {
	e := new(Entry)
	e.Fields = Fields{
		Time: time.Date(2026, 12, 1, 2, 3, 4, 5e6, time.UTC), Duration: 1500 * time.Microsecond, S3: 250 * time.Microsecond,
		ClientIP: netip.MustParseAddr("203.0.113.7"), IPSource: IPXFF, Proto: H2, TLS: true, Cache: CacheMiss,
		Status: 302, Bytes: 12, Route: "route", Region: "uk-london", RegionSource: "geoip", Rule: "downloads", Bucket: "files",
	}
	e.SetMethod([]byte("GET"))
	e.SetURI([]byte(`/r/a "b".zip?region=x`))
	e.SetKey("uk/london/a \"b\".zip")
	e.SetRequestID([]byte("abc-123"))
	e.SetUserAgent([]byte("curl/8.5\x01\xff"))
	e.SetReferer(nil)
	return e
}

func TestJSONLine(t *testing.T) {
	line := appendJSON(nil, sampleEntry())
	if !strings.HasSuffix(string(line), "}\n") || strings.Count(string(line), "\n") != 1 {
		t.Fatalf("not one line: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	want := map[string]any{
		"time": "2026-12-01T02:03:04.005Z", "request_id": "abc-123", "client_ip": "203.0.113.7", "client_ip_source": "xff",
		"proto": "h2", "tls": true, "method": "GET", "uri": `/r/a "b".zip?region=x`, "status": 302.0, "bytes": 12.0,
		"duration_ms": 1.5, "route": "route", "region": "uk-london", "region_source": "geoip", "rule": "downloads",
		"bucket": "files", "key": `uk/london/a "b".zip`, "cache": "MISS", "s3_ms": 0.25,
		"user_agent": "curl/8.5\x01\ufffd", "referer": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d fields, want %d: %s", len(got), len(want), line)
	}
}

func TestCombinedLine(t *testing.T) {
	got := string(appendCombined(nil, sampleEntry()))
	want := `203.0.113.7 - - [01/Dec/2026:02:03:04 +0000] "GET /r/a \x22b\x22.zip?region=x HTTP/2.0" 302 12 "-" "curl/8.5\x01\xff"` +
		` request_id=abc-123 proto=h2 tls=true route=route region=uk-london region_source=geoip rule=downloads bucket=files` +
		` key="uk/london/a \x22b\x22.zip" cache=MISS rt=0.001500 s3=0.000250` + "\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFieldsTruncatedToTheirCaps(t *testing.T) {
	e := new(Entry)
	e.SetUserAgent([]byte(strings.Repeat("u", 1000)))
	e.SetKey(strings.Repeat("k", 1000))
	if n := len(e.get(fUserAgent)); n != varCap[fUserAgent] {
		t.Errorf("user agent kept %d bytes, want %d", n, varCap[fUserAgent])
	}
	if n := len(e.Key()); n != varCap[fKey] {
		t.Errorf("key kept %d bytes, want %d", n, varCap[fKey])
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "\x00\x1f\x7f", "é✓", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q -> %s -> %q", s, b, got)
		}
		if strings.ContainsAny(string(b), "\n\r") {
			t.Fatalf("line break in %q", b)
		}
	})
}

func BenchmarkFormat(b *testing.B) {
	e := sampleEntry()
	buf := make([]byte, 0, 4096)
	for _, f := range []struct {
		name string
		fn   func([]byte, *Entry) []byte
	}{{"json", appendJSON}, {"combined", appendCombined}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = f.fn(buf[:0], e)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func TestTimeAndMillisFormats(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 2, 3, 4, 5e6, time.UTC), "2026-12-01T02:03:04.005Z"},
		{time.Date(1999, 1, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600)), "1999-01-31T22:59:59.999Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "10000-01-01T00:00:00.000Z"},
	} {
		if got := string(appendRFC3339Millis(nil, tc.t)); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.t, got, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0.000", 1500 * time.Microsecond: "1.500", 2*time.Second + 7*time.Microsecond: "2000.007", -time.Millisecond: "-1.000"} {
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}
