package gateway

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/certs"
	"github.com/edgegate/edgegate/internal/testenv"
)

// startACMEGateway is startTLSGateway with ACME instead of certificate
// files: certificates for localhost and 127.0.0.1 from a private Pebble
// whose validation connects to the gateway's own listeners (HTTP-01 to
// the plain one, TLS-ALPN-01 to the TLS one), offering only challenges,
// with tls.plain_http plainHTTP. It returns the gateway and Pebble.
func startACMEGateway(t *testing.T, challenges []string, plainHTTP string) (*tlsGateway, *testenv.Pebble) {
	t.Helper()
	var pebble *testenv.Pebble
	g := startTLSGateway(t, func(c *Config) {
		c.TLS.PlainHTTP = plainHTTP
		pebble = testenv.NewPebble(t, testenv.PebbleOptions{HTTPPort: portOf(c.Listen, 0), TLSPort: portOf(c.ListenTLS, 0)})
		c.TLS.Certificates = nil
		c.TLS.ACME = certs.ACMEConfig{
			Names: []string{"localhost", "127.0.0.1"},
			// With no email, certmagic v0.25.6 may register the second
			// name's account as "mailto:default" (a race with the first
			// name's registration), which Pebble refuses; that name then
			// waits a minute for its retry.
			Email:      "test@edgegate.localhost",
			CA:         pebble.Directory,
			CARoot:     pebble.CARootFile,
			Challenges: challenges,
			Storage:    certs.StorageConfig{Dir: filepath.Join(t.TempDir(), "acme")},
		}
	})
	g.pool = pebble.Roots(t)
	return g, pebble
}

// debugTLSAnswer is the admin /debug/tls answer.
type debugTLSAnswer struct {
	Enabled      bool
	PlainHTTP    string `json:"plain_http"`
	Certificates []certs.CertStatus
}

// A gateway with ACME gets its certificates from the CA at start, through
// its own listeners: HTTP-01 on the plain listener, in redirect mode (the
// challenge answered before the redirect) and in serve mode (the demo's),
// TLS-ALPN-01 on the TLS listener; then clients that trust only the CA's root get answers over
// HTTP/2 by name (SNI localhost) and by address (127.0.0.1, no SNI), and
// /debug/tls lists the ACME certificates with the CA as issuer.
func TestACMEIssuesThroughGatewayListeners(t *testing.T) {
	for _, tc := range []struct {
		challenge, plainHTTP string
		plainStatus          int // a plain /r/ request's answer
	}{
		{certs.ChallengeHTTP01, "redirect", http.StatusPermanentRedirect},
		{certs.ChallengeHTTP01, "serve", http.StatusFound},
		{certs.ChallengeTLSALPN01, "redirect", http.StatusPermanentRedirect},
	} {
		t.Run(tc.challenge+" "+tc.plainHTTP, func(t *testing.T) {
			g, pebble := startACMEGateway(t, []string{tc.challenge}, tc.plainHTTP)
			var dt debugTLSAnswer
			waitFor(t, 60*time.Second, "two ACME certificates in /debug/tls", func() bool {
				resp, err := noRedirect.Get(g.admin + "/debug/tls")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				dt = debugTLSAnswer{}
				if json.NewDecoder(resp.Body).Decode(&dt) != nil {
					return false
				}
				n := 0
				for _, c := range dt.Certificates {
					if c.Source == certs.SourceACME && c.Issuer != "" {
						n++
					}
				}
				return n == 2
			})
			if !dt.Enabled || dt.PlainHTTP != tc.plainHTTP || len(dt.Certificates) != 2 {
				t.Fatalf("/debug/tls: %+v", dt)
			}
			for i, want := range []string{"localhost", "127.0.0.1"} {
				c := dt.Certificates[i]
				if !slices.Contains(c.Names, want) || !strings.Contains(c.Issuer, "Pebble") || c.Error != "" ||
					!c.NotAfter.After(time.Now()) {
					t.Errorf("/debug/tls certificate %d: %+v, want one for %s issued by Pebble", i, c, want)
				}
			}
			if n := pebble.Issued(); n != 2 {
				t.Errorf("Pebble issued %d certificates, want 2", n)
			}
			_, port, _ := strings.Cut(strings.TrimPrefix(g.https, "https://"), ":")
			for _, base := range []string{"https://localhost:" + port, g.https} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: g.pool}, ForceAttemptHTTP2: true}
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := c.Get(base + "/r/map-tiles.zip?region=egypt-cairo")
				if err != nil {
					t.Fatalf("%s: %v", base, err)
				}
				resp.Body.Close()
				tr.CloseIdleConnections()
				if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusFound ||
					!strings.Contains(resp.Header.Get("Location"), "egypt/cairo/map-tiles.zip") {
					t.Errorf("%s: %s %d %q, want HTTP/2 302 to egypt/cairo", base, resp.Proto, resp.StatusCode, resp.Header.Get("Location"))
				}
				if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || !strings.Contains(resp.TLS.PeerCertificates[0].Issuer.String(), "Pebble") {
					t.Errorf("%s: not served the ACME certificate", base)
				}
			}
			// The plain listener redirects to HTTPS, or serves, as before.
			resp, _ := get(t, g.base+"/r/map-tiles.zip?region=uk")
			if resp.StatusCode != tc.plainStatus {
				t.Errorf("plain /r/: %d, want %d", resp.StatusCode, tc.plainStatus)
			}
		})
	}
}
