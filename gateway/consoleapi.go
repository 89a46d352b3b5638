package gateway

// The admin console (package console) and the JSON it needs beyond the
// other admin endpoints: the rules as a table and as source text, a draft
// check, countries by region, a live metrics snapshot, the access log's
// last lines, and image renders through the public path's own code. All on
// the admin listener, behind its Host check; the draft check (a POST with
// a body) also needs the admin token when the listener is not
// loopback-only.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/edgegate/edgegate/console"
	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/resize"
	"github.com/edgegate/edgegate/rules"
)

// Console limits.
const (
	consoleMaxRulesBytes = 1 << 20   // a draft to check, or the source shown
	consoleTailBytes     = 512 << 10 // the access log's last lines kept for /debug/access-log
	consoleMaxLogLines   = 1000
)

// mountConsole adds the console page, its files and its endpoints to the
// admin mux. The page is "/" exactly; other unknown paths stay 404.
func (s *Server) mountConsole(mux *http.ServeMux) {
	if h, err := console.New(); err != nil {
		s.log.Error("console: not served", "err", err)
	} else {
		mux.Handle("GET /{$}", h)
		mux.Handle("GET "+console.Prefix, h)
	}
	mux.HandleFunc("GET /debug/rules/table", s.debugRulesTable)
	mux.HandleFunc("GET /debug/rules/source", s.debugRulesSource)
	mux.HandleFunc("POST /debug/rules/check", s.debugRulesCheck)
	mux.HandleFunc("GET /debug/geo/map", s.debugGeoMap)
	mux.HandleFunc("GET /debug/live", s.debugLive)
	mux.HandleFunc("GET /debug/access-log", s.debugAccessLog)
	mux.HandleFunc("GET /debug/images", s.debugImages)
	mux.HandleFunc("GET /debug/image", s.debugImage)
}

func consoleError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, errorBody{Error: fmt.Sprintf(format, args...), Status: status})
}

type consoleRegion struct {
	Name        string   `json:"name"`
	Prefix      string   `json:"prefix"`
	Fallback    string   `json:"fallback,omitempty"`
	Chain       []string `json:"chain"` // this region, then its fallbacks
	Country     []string `json:"country,omitempty"`
	Subdivision []string `json:"subdivision,omitempty"`
	City        []string `json:"city,omitempty"`
	Continent   []string `json:"continent,omitempty"`
	Line        int      `json:"line"`
}

type consoleRoute struct {
	Name           string            `json:"name"`
	Match          string            `json:"match"`
	Bucket         string            `json:"bucket"`
	Delivery       string            `json:"delivery"`
	TTL            string            `json:"ttl"`
	CDN            string            `json:"cdn,omitempty"`
	FallbackExists bool              `json:"fallback_exists"`
	Overrides      map[string]string `json:"overrides,omitempty"`
	Line           int               `json:"line"`
}

// debugRulesTable: the loaded rules, regions and routes in file order.
func (s *Server) debugRulesTable(w http.ResponseWriter, r *http.Request) {
	t := s.rules.Table()
	out := struct {
		Version       string          `json:"version"`
		Source        string          `json:"source"`
		DefaultRegion string          `json:"default_region"`
		Regions       []consoleRegion `json:"regions"`
		Routes        []consoleRoute  `json:"routes"`
	}{Version: t.Hash(), Source: t.Source(), Regions: []consoleRegion{}, Routes: []consoleRoute{}}
	if d := t.DefaultRegion(); d != nil {
		out.DefaultRegion = d.Name
	}
	for _, reg := range t.Regions() {
		cr := consoleRegion{Name: reg.Name, Prefix: reg.Prefix, Country: reg.Country, Subdivision: reg.Subdivision,
			City: reg.City, Continent: reg.Continent, Line: reg.Line}
		if reg.Fallback != nil {
			cr.Fallback = reg.Fallback.Name
		}
		for f := reg; f != nil && len(cr.Chain) <= len(t.Regions()); f = f.Fallback {
			cr.Chain = append(cr.Chain, f.Name)
		}
		out.Regions = append(out.Regions, cr)
	}
	for _, rt := range t.Routes() {
		out.Routes = append(out.Routes, consoleRoute{Name: rt.Name, Match: rt.Match, Bucket: rt.Bucket,
			Delivery: rt.Delivery.String(), TTL: rt.TTL.String(), CDN: rt.CDN, FallbackExists: rt.FallbackExists,
			Overrides: rt.Overrides, Line: rt.Line})
	}
	writeJSON(w, http.StatusOK, out)
}

// consoleProblem is one rules problem at a 1-based line and column.
type consoleProblem struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"msg"`
}

var problemLine = regexp.MustCompile(`^(.*?):(\d+):(\d+): (.*)$`)

// problemsOf splits a rules error's text into its "file:line:col: msg"
// lines (rules.Error prints one per line); other lines are dropped.
func problemsOf(msg string) []consoleProblem {
	out := []consoleProblem{}
	for _, l := range strings.Split(msg, "\n") {
		m := problemLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		out = append(out, consoleProblem{File: m[1], Line: line, Col: col, Msg: m[4]})
	}
	return out
}

// debugRulesSource: the rules file's text as it is on disk now (which is
// what the last reload read; when that reload failed, the text with the
// error, not the rules serving), and the last reload error by position.
func (s *Server) debugRulesSource(w http.ResponseWriter, r *http.Request) {
	st := s.rules.Status()
	out := map[string]any{
		"path": st.Path, "version": st.Hash, "loaded_at": st.LoadedAt.UTC().Format(time.RFC3339Nano),
		"reloads": st.Reloads, "failures": st.Failures, "last_error": st.LastError,
		"problems": problemsOf(st.LastError),
	}
	if !st.LastErrorAt.IsZero() {
		out["last_error_at"] = st.LastErrorAt.UTC().Format(time.RFC3339Nano)
	}
	text, truncated, err := readCapped(st.Path, consoleMaxRulesBytes)
	if err != nil {
		out["read_error"] = err.Error()
	}
	out["text"], out["truncated"] = text, truncated
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

func readCapped(path string, limit int64) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, fmt.Errorf("gateway: rules source: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", false, fmt.Errorf("gateway: rules source: %w", err)
	}
	if int64(len(b)) > limit {
		return string(b[:limit]), true, nil
	}
	return string(b), false, nil
}

// debugRulesCheck validates a draft rules file (the request body, at most
// 1 MiB) with the loader's own parser, without loading it: 200 with ok
// and, when it is invalid, its problems by line and column.
func (s *Server) debugRulesCheck(w http.ResponseWriter, r *http.Request) {
	if !s.mutationAllowed(w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, consoleMaxRulesBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			consoleError(w, http.StatusRequestEntityTooLarge, "a draft may be at most %d bytes", consoleMaxRulesBytes)
			return
		}
		consoleError(w, http.StatusBadRequest, "reading the draft: %v", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	t, err := rules.Parse("draft", body)
	if err != nil {
		problems := []consoleProblem{}
		if re, ok := errors.AsType[*rules.Error](err); ok {
			for _, p := range re.Problems {
				problems = append(problems, consoleProblem{File: p.File, Line: p.Line, Col: p.Col, Msg: p.Msg})
			}
		} else {
			problems = append(problems, consoleProblem{Line: 1, Col: 1, Msg: err.Error()})
		}
		// 200: the check ran; its answer is that the draft is invalid.
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "problems": problems})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "version": t.Hash(),
		"regions": len(t.Regions()), "routes": len(t.Routes()), "problems": []consoleProblem{}})
}

type consoleCountry struct {
	Region    string   `json:"region"`
	Continent string   `json:"continent,omitempty"`
	Cities    []string `json:"cities,omitempty"` // regions of cities or subdivisions in this country
}

// debugGeoMap: the region each country on the console's map resolves to
// under the current rules (a client known only by its country and
// continent), and the more specific regions inside it.
func (s *Server) debugGeoMap(w http.ResponseWriter, r *http.Request) {
	t := s.rules.Table()
	out := struct {
		Version       string                    `json:"version"`
		DefaultRegion string                    `json:"default_region"`
		Regions       []string                  `json:"regions"`
		Countries     map[string]consoleCountry `json:"countries"`
	}{Version: t.Hash(), Regions: []string{}, Countries: map[string]consoleCountry{}}
	def := t.DefaultRegion()
	if def != nil {
		out.DefaultRegion = def.Name
	}
	for _, reg := range t.Regions() {
		out.Regions = append(out.Regions, reg.Name)
	}
	for _, cc := range console.Countries() {
		loc := geo.Location{Country: cc, Continent: geo.ContinentOf(cc)}
		c := consoleCountry{Continent: loc.Continent}
		if reg := t.RegionFor(loc); reg != nil {
			c.Region = reg.Name
		} else if def != nil {
			c.Region = def.Name
		}
		for _, reg := range t.Regions() {
			if (len(reg.City) > 0 || len(reg.Subdivision) > 0) && slices.ContainsFunc(reg.Country, func(x string) bool { return strings.EqualFold(x, cc) }) {
				c.Cities = append(c.Cities, reg.Name)
			}
		}
		out.Countries[cc] = c
	}
	writeJSON(w, http.StatusOK, out)
}

// consoleLive is one snapshot of the gateway's own metrics: cumulative
// counts; the page computes rates and recent quantiles from two of them.
type consoleLive struct {
	TimeMS        int64              `json:"time_ms"`
	LatencyBounds []float64          `json:"latency_bounds"` // upper bounds of routes[].buckets (+Inf last, as null)
	Routes        []consoleLiveRoute `json:"routes"`
	S3Bounds      []float64          `json:"s3_bounds"`
	S3            []consoleLiveS3    `json:"s3"`
	ExistsCache   struct {
		Hits   float64 `json:"hits"`
		Misses float64 `json:"misses"`
	} `json:"exists_cache"`
	Images     map[string]float64 `json:"images"` // hit, stored, miss
	RSSBytes   float64            `json:"rss_bytes"`
	Goroutines int                `json:"goroutines"`
}

type consoleLiveRoute struct {
	Route   string             `json:"route"`
	Count   uint64             `json:"count"`
	Codes   map[string]float64 `json:"codes"`
	Buckets []uint64           `json:"buckets"` // cumulative, by latency_bounds
}

type consoleLiveS3 struct {
	Operation string   `json:"operation"`
	Bucket    string   `json:"bucket"`
	Count     uint64   `json:"count"`
	Sum       float64  `json:"sum"`
	Errors    float64  `json:"errors"`
	Buckets   []uint64 `json:"buckets"`
}

// debugLive gathers the gateway's registry once (what a /metrics scrape
// costs) and keeps what the console's live view draws.
func (s *Server) debugLive(w http.ResponseWriter, r *http.Request) {
	fams, err := s.metrics.reg.Gather()
	if err != nil && len(fams) == 0 {
		consoleError(w, http.StatusInternalServerError, "gateway: gathering metrics: %v", err)
		return
	}
	out := consoleLive{TimeMS: time.Now().UnixMilli(), Routes: []consoleLiveRoute{}, S3: []consoleLiveS3{},
		Images: map[string]float64{}, Goroutines: runtime.NumGoroutine()}
	routes := map[string]*consoleLiveRoute{}
	route := func(name string) *consoleLiveRoute {
		if rt := routes[name]; rt != nil {
			return rt
		}
		rt := &consoleLiveRoute{Route: name, Codes: map[string]float64{}}
		routes[name] = rt
		return rt
	}
	s3 := map[[2]string]*consoleLiveS3{}
	op := func(m *dto.Metric) *consoleLiveS3 {
		k := [2]string{label(m, "operation"), label(m, "bucket")}
		if o := s3[k]; o != nil {
			return o
		}
		o := &consoleLiveS3{Operation: k[0], Bucket: k[1]}
		s3[k] = o
		return o
	}
	for _, f := range fams {
		switch f.GetName() {
		case "edgegate_requests_total":
			for _, m := range f.Metric {
				route(label(m, "route")).Codes[label(m, "code")] += m.GetCounter().GetValue()
			}
		case "edgegate_request_duration_seconds":
			for _, m := range f.Metric {
				rt := route(label(m, "route"))
				h := m.GetHistogram()
				out.LatencyBounds, rt.Buckets = addBuckets(out.LatencyBounds, rt.Buckets, h)
				rt.Count += h.GetSampleCount()
			}
		case "edgegate_s3_request_duration_seconds":
			for _, m := range f.Metric {
				o, h := op(m), m.GetHistogram()
				out.S3Bounds, o.Buckets = addBuckets(out.S3Bounds, o.Buckets, h)
				o.Count += h.GetSampleCount()
				o.Sum += h.GetSampleSum()
			}
		case "edgegate_s3_request_errors_total":
			for _, m := range f.Metric {
				op(m).Errors += m.GetCounter().GetValue()
			}
		case "edgegate_exists_cache_hits_total":
			out.ExistsCache.Hits = sumCounters(f)
		case "edgegate_s3_head_requests_total": // existence checks that asked S3
			out.ExistsCache.Misses = sumCounters(f)
		case "edgegate_image_requests_total":
			for _, m := range f.Metric {
				out.Images[label(m, "result")] += m.GetCounter().GetValue()
			}
		case "process_resident_memory_bytes":
			for _, m := range f.Metric {
				out.RSSBytes = m.GetGauge().GetValue()
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		out.Routes = append(out.Routes, *routes[name])
	}
	for _, o := range s3 {
		out.S3 = append(out.S3, *o)
	}
	slices.SortFunc(out.S3, func(a, b consoleLiveS3) int {
		return strings.Compare(a.Operation+"\x00"+a.Bucket, b.Operation+"\x00"+b.Bucket)
	})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// addBuckets adds a histogram's cumulative bucket counts to sum (by
// position), the +Inf bucket last; bounds are the upper bounds (+Inf as
// MaxFloat64, JSON has no infinity).
func addBuckets(bounds []float64, sum []uint64, h *dto.Histogram) ([]float64, []uint64) {
	bs := h.GetBucket()
	if bounds == nil {
		for _, b := range bs {
			bounds = append(bounds, b.GetUpperBound())
		}
		bounds = append(bounds, math.MaxFloat64)
	}
	if sum == nil {
		sum = make([]uint64, len(bounds))
	}
	for i, b := range bs {
		if i < len(sum)-1 {
			sum[i] += b.GetCumulativeCount()
		}
	}
	sum[len(sum)-1] += h.GetSampleCount()
	return bounds, sum
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func sumCounters(f *dto.MetricFamily) float64 {
	var n float64
	for _, m := range f.Metric {
		n += m.GetCounter().GetValue()
	}
	return n
}

// debugAccessLog: the last n (1..1000, default 100) access-log lines,
// those containing filter (case-insensitive) when it is given.
func (s *Server) debugAccessLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := 100
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > consoleMaxLogLines {
			consoleError(w, http.StatusBadRequest, "n: want 1..%d lines, not %q", consoleMaxLogLines, truncate(v, 32))
			return
		}
	}
	filter := q.Get("filter")
	if len(filter) > 256 {
		consoleError(w, http.StatusBadRequest, "filter: at most 256 bytes")
		return
	}
	var keep func([]byte) bool
	if filter != "" {
		lf := bytes.ToLower([]byte(filter))
		keep = func(l []byte) bool { return bytes.Contains(bytes.ToLower(l), lf) }
	}
	lines, held := s.tail.Last(n, keep)
	if lines == nil {
		lines = []string{}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"enabled": s.alog != nil, "format": s.cfg.AccessLog.Format,
		"held": held, "lines": lines})
}

// debugImages lists the presets and output formats /debug/image renders.
func (s *Server) debugImages(w http.ResponseWriter, r *http.Request) {
	type preset struct {
		Name   string `json:"name"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Fit    string `json:"fit"`
	}
	out := struct {
		Presets []preset `json:"presets"`
		Formats []string `json:"formats"`
	}{Presets: []preset{}, Formats: []string{}}
	for _, name := range slices.Sorted(maps.Keys(s.cfg.Images.Presets)) {
		p := s.cfg.Images.Presets[name]
		fit := string(p.Fit)
		if fit == "" {
			fit = string(resize.FitInside)
		}
		out.Presets = append(out.Presets, preset{Name: name, Width: p.Width, Height: p.Height, Fit: fit})
	}
	for f := resize.JPEG; f <= resize.GIF; f++ { // the output formats
		out.Formats = append(out.Formats, f.String())
	}
	writeJSON(w, http.StatusOK, out)
}

// debugImage renders /img/{preset}/{key}?format=&region= through the
// public path's own code (region, route, existence, the variant cache, the
// megapixel admission and its 429), so the page never talks to the public
// listener. It answers the image with its size and the time it took in
// X-Image-Width, X-Image-Height and X-Render-Ms, or the public JSON error.
// It is not counted in the public metrics or the access log.
func (s *Server) debugImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, preset, format := q.Get("key"), q.Get("preset"), q.Get("format")
	if _, ok := s.cfg.Images.Presets[preset]; !ok {
		consoleError(w, http.StatusBadRequest, "preset %q: not one of this gateway's presets (GET /debug/images)", truncate(preset, 64))
		return
	}
	if _, ok := resize.ParseFormat(format); !ok {
		consoleError(w, http.StatusBadRequest, "format %q: want jpeg, png, webp, avif or gif", truncate(format, 16))
		return
	}
	if e := validKey(key); e != nil {
		consoleError(w, e.Status, "%s", e.Msg)
		return
	}
	path := "/img/" + preset + "/" + (&url.URL{Path: key}).EscapedPath()
	args := url.Values{"format": {format}}
	if reg := q.Get("region"); reg != "" {
		args.Set("region", reg)
	}
	var req fasthttp.Request
	req.SetRequestURI(path + "?" + args.Encode())
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set("Accept", resizeAccept)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	start := time.Now()
	p := []byte(path)
	s.serveImage(&ctx, p, p[len(prefixImage):], nil)
	took := time.Since(start)
	resp := &ctx.Response
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", string(resp.Header.ContentType()))
	h.Set("X-Render-Ms", strconv.FormatFloat(float64(took.Microseconds())/1000, 'f', 1, 64))
	if xc := resp.Header.Peek("X-Cache"); len(xc) > 0 {
		h.Set("X-Cache", string(xc))
	}
	body := resp.Body()
	if resp.StatusCode() == http.StatusOK {
		if info, err := resize.Probe(body); err == nil {
			h.Set("X-Image-Width", strconv.Itoa(info.Width))
			h.Set("X-Image-Height", strconv.Itoa(info.Height))
		}
	} else if ra := resp.Header.Peek("Retry-After"); len(ra) > 0 {
		h.Set("Retry-After", string(ra))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode())
	w.Write(body)
}

// resizeAccept: every format, so that ?format= alone decides.
const resizeAccept = "image/avif,image/webp,image/png,image/jpeg,*/*"
