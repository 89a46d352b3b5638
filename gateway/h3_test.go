package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/edgegate/edgegate/certs"
)

// HTTP/3 clients whose QUIC handshake fails (an unknown server name, no
// application protocol in common, a client that does not trust our
// certificate, one that goes silent after its first packet) are counted by the reasons TCP handshakes are, apart from
// them (edgegate_quic_handshake_errors_total); a good client's handshake
// is counted as one, and the server keeps serving.
func TestHTTP3HandshakeFailuresByReason(t *testing.T) {
	g := startTLSGateway(t, func(c *Config) { c.TLS.HandshakeTimeout = time.Second })
	addr := strings.TrimPrefix(g.https, "https://")
	quicErrors := func(reason string) float64 {
		return value(scrape(t, g.testGateway), "edgegate_quic_handshake_errors_total", "reason", reason)
	}
	handshakes := func() float64 { return value(scrape(t, g.testGateway), "edgegate_quic_handshakes_total") }
	h3Get := func(conf *tls.Config) error {
		tr := &http3.Transport{TLSClientConfig: conf}
		defer tr.Close()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(g.https + "/r/map-tiles.zip?region=uk")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	tests := []struct {
		name, reason string
		fail         func() error
	}{
		{"unknown SNI", certs.ReasonUnknownSNI, func() error {
			return h3Get(&tls.Config{ServerName: "unknown.example", InsecureSkipVerify: true})
		}},
		{"no shared ALPN", certs.ReasonNoALPN, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: g.pool, ServerName: "localhost", NextProtos: []string{"spdy/3"}}, nil)
			if err == nil {
				c.CloseWithError(0, "")
			}
			return err
		}},
		{"untrusted certificate", certs.ReasonBadCertificate, func() error {
			return h3Get(&tls.Config{ServerName: "localhost"}) // the system roots, not the test CA
		}},
		{"silent client", certs.ReasonTimeout, func() error {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			qt := &quic.Transport{Conn: &firstPacketOnly{PacketConn: pc}}
			defer qt.Close()
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			c, err := qt.Dial(ctx, ua, &tls.Config{RootCAs: g.pool, ServerName: "localhost", NextProtos: []string{http3.NextProtoH3}}, nil)
			if err == nil {
				c.CloseWithError(0, "")
			}
			return err
		}},
	}
	for _, tt := range tests {
		before, total := quicErrors(tt.reason), handshakes()
		err := tt.fail()
		if err == nil {
			t.Errorf("%s: the handshake succeeded", tt.name)
			continue
		}
		t.Logf("%s: %v", tt.name, err)
		waitFor(t, 10*time.Second, tt.name+" counted", func() bool { return handshakes() > total })
		if got := quicErrors(tt.reason); got != before+1 {
			fams := scrape(t, g.testGateway)
			var all []string
			for _, m := range fams["edgegate_quic_handshake_errors_total"].GetMetric() {
				if v := m.GetCounter().GetValue(); v > 0 {
					all = append(all, fmt.Sprintf("%s=%v", m.GetLabel()[0].GetValue(), v))
				}
			}
			t.Errorf("%s: edgegate_quic_handshake_errors_total{reason=%q} %v → %v; all: %v", tt.name, tt.reason, before, got, all)
		}
	}

	// A good client: one handshake, no failure; TCP's counters unmoved.
	failures := value(scrape(t, g.testGateway), "edgegate_quic_handshake_errors_total")
	tcp := value(scrape(t, g.testGateway), "edgegate_tls_handshakes_total")
	total := handshakes()
	if err := h3Get(&tls.Config{RootCAs: g.pool, ServerName: "localhost"}); err != nil {
		t.Fatalf("a good HTTP/3 client after the bad ones: %v", err)
	}
	waitFor(t, 10*time.Second, "the good handshake counted", func() bool { return handshakes() > total })
	fams := scrape(t, g.testGateway)
	if got := value(fams, "edgegate_quic_handshake_errors_total"); got != failures {
		t.Errorf("a good client moved the failures: %v → %v", failures, got)
	}
	if got := value(fams, "edgegate_quic_handshakes_total"); got != total+1 {
		t.Errorf("edgegate_quic_handshakes_total %v → %v, want one more", total, got)
	}
	if got := value(fams, "edgegate_tls_handshakes_total"); got != tcp {
		t.Errorf("HTTP/3 moved edgegate_tls_handshakes_total: %v → %v", tcp, got)
	}
}

// firstPacketOnly sends the first packet written to it and drops the
// rest: a client that goes silent after its ClientHello.
type firstPacketOnly struct {
	net.PacketConn
	sent atomic.Bool
}

func (c *firstPacketOnly) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.sent.Swap(true) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}
