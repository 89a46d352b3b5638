package geo

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHeaderLocation(t *testing.T) {
	on := mustResolver(t, Config{TrustedProxies: []string{"10.0.0.0/8"}, CDNHeaders: true})
	off := mustResolver(t, Config{TrustedProxies: []string{"10.0.0.0/8"}})
	trusted, untrusted := "10.0.0.1", "203.0.113.9"
	tests := []struct {
		name   string
		r      *IPResolver
		peer   string
		h      Headers
		want   Location
		wantOK bool
	}{
		{"cloudfront full", on, trusted, hdr(HeaderCloudFrontViewerCountry, "US", HeaderCloudFrontViewerCountryRegion, "VA", HeaderCloudFrontViewerCity, "Alexandria"),
			Location{Country: "US", Subdivision: "VA", City: "Alexandria", Continent: "NA"}, true},
		{"cloudfront url-encoded city", on, trusted, hdr(HeaderCloudFrontViewerCountry, "BR", HeaderCloudFrontViewerCity, "S%C3%A3o%20Paulo"),
			Location{Country: "BR", City: "São Paulo", Continent: "SA"}, true},
		{"cloudfront plain utf-8 city", on, trusted, hdr(HeaderCloudFrontViewerCountry, "eg", HeaderCloudFrontViewerCity, "Cairo"),
			Location{Country: "EG", City: "Cairo", Continent: "AF"}, true},
		{"cloudfront bad region and city dropped", on, trusted, hdr(HeaderCloudFrontViewerCountry, "GB", HeaderCloudFrontViewerCountryRegion, "ENG-X", HeaderCloudFrontViewerCity, "a%0Ab"),
			Location{Country: "GB", Continent: "EU"}, true},
		{"cloudfront invalid utf-8 city dropped", on, trusted, hdr(HeaderCloudFrontViewerCountry, "GB", HeaderCloudFrontViewerCity, "%FF%FE"),
			Location{Country: "GB", Continent: "EU"}, true},
		{"cloudfront wins over cf-ipcountry", on, trusted, hdr(HeaderCloudFrontViewerCountry, "FR", HeaderCFIPCountry, "DE"),
			Location{Country: "FR", Continent: "EU"}, true},
		{"bad cloudfront country falls back to cf-ipcountry", on, trusted, hdr(HeaderCloudFrontViewerCountry, "XX", HeaderCFIPCountry, "DE"),
			Location{Country: "DE", Continent: "EU"}, true},
		{"cf-ipcountry", on, trusted, hdr(HeaderCFIPCountry, "jp"), Location{Country: "JP", Continent: "AS"}, true},
		{"cf-ipcountry XX is unknown", on, trusted, hdr(HeaderCFIPCountry, "XX"), Location{}, false},
		{"cf-ipcountry T1 (Tor) is unknown", on, trusted, hdr(HeaderCFIPCountry, "T1"), Location{}, false},
		{"cf-ipcountry garbage", on, trusted, hdr(HeaderCFIPCountry, "USA"), Location{}, false},
		{"no headers", on, trusted, hdr(), Location{}, false},
		{"nil headers", on, trusted, nil, Location{}, false},
		{"untrusted peer ignored", on, untrusted, hdr(HeaderCFIPCountry, "DE", HeaderCloudFrontViewerCountry, "FR"), Location{}, false},
		{"disabled", off, trusted, hdr(HeaderCFIPCountry, "DE", HeaderCloudFrontViewerCountry, "FR"), Location{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.r.HeaderLocation(netip.MustParseAddr(tt.peer), tt.h)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("HeaderLocation = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDecodeCity(t *testing.T) {
	tests := map[string]string{
		"London":                  "London",
		"New%20York":              "New York",
		"Z%C3%BCrich":             "Zürich",
		"100%":                    "100%", // a lone % is kept literally
		"%zz":                     "%zz",
		"tab%09":                  "",
		"":                        "",
		string(make([]byte, 400)): "",
	}
	for in, want := range tests {
		if got := decodeCity([]byte(in)); got != want {
			t.Errorf("decodeCity(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDecodeCity: whatever CloudFront-Viewer-City holds, the result is ""
// or bounded, valid UTF-8 without control characters.
func FuzzDecodeCity(f *testing.F) {
	for _, s := range []string{"S%C3%A3o%20Paulo", "%", "%%41", "%0a", "London", "%E2%82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := decodeCity([]byte(s))
		if len(got) > maxCityLen || !utf8.ValidString(got) {
			t.Fatalf("decodeCity(%q) = %q", s, got)
		}
		for _, c := range []byte(got) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("decodeCity(%q) = %q has a control character", s, got)
			}
		}
		if got != "" && !strings.Contains(s, "%") && got != s {
			t.Fatalf("decodeCity(%q) = %q changed a value without escapes", s, got)
		}
	})
}
