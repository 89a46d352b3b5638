package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// WriteHTML writes the self-contained HTML report. latencyPlot is a
// complete HTML page (vegeta's plot) shown in an iframe; it may be empty.
func WriteHTML(w io.Writer, r *Report, latencyPlot string) error {
	data := struct {
		R           *Report
		LatencyPlot string
		Percentiles template.HTML
		Metrics     []template.HTML
		Rows        []row
	}{R: r, LatencyPlot: latencyPlot}
	data.Rows = append(data.Rows, row{"all", r.Total})
	for _, name := range r.Order {
		if s, ok := r.ByRequest[name]; ok {
			data.Rows = append(data.Rows, row{name, s})
		}
	}
	data.Percentiles = percentileChart(r.Distribution)
	data.Metrics = metricCharts(r)
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return nil
}

type row struct {
	Name string
	S    stats.Summary
}

var funcs = template.FuncMap{
	"ms":  func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1":  func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"pct": func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"pctp": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", 100**v)
	},
	"sorted": stats.SortedKeys,
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>loadtest {{.R.Scenario}} — {{.R.Target}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f4f4f4}
iframe{width:100%;height:520px;border:1px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:1em}
.err{color:#b00}
</style></head><body>
<h1>loadtest: {{.R.Scenario}}</h1>
{{with .R.Description}}<p>{{.}}</p>{{end}}
<table>
<tr><th>target</th><td>{{.R.Target}}</td></tr>
<tr><th>mode</th><td>{{.R.Mode}} loop{{if eq .R.Mode "closed"}}, {{.R.Schedule.Workers}} workers{{end}}{{with .R.Client}}, {{.}} client{{end}}{{if eq .R.Client "raw"}} (at most {{.R.Conns}} connections){{end}}</td></tr>
<tr><th>started</th><td>{{.R.Started}}</td></tr>
<tr><th>duration / elapsed</th><td>{{f1 .R.DurationS}} s / {{f1 .R.ElapsedS}} s</td></tr>
{{if eq .R.Mode "open"}}<tr><th>requested rate</th><td>{{f1 .R.RequestedRate}}/s</td></tr>{{end}}
<tr><th>sent rate (achieved)</th><td>{{f1 .R.SentRate}}/s</td></tr>
<tr><th>throughput (responses / successes)</th><td>{{f1 .R.Throughput}}/s / {{f1 .R.SuccessRate}}/s</td></tr>
{{if eq .R.Mode "open"}}<tr><th>send times: due / sent / late / missed</th><td>{{.R.Schedule.Intended}} / {{.R.Schedule.Sent}} / {{.R.Schedule.Late}} / {{.R.Schedule.Missed}} (max lag {{ms .R.Schedule.MaxLagMs}} ms, {{.R.Schedule.Workers}} workers)</td></tr>{{end}}
<tr><th>seed</th><td>{{.R.Seed}}</td></tr>
</table>

<h2>Latency (ms, from intended send time)</h2>
<table>
<tr><th>request</th><th>count</th><th>ok</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th><th>service p99</th><th>X-Cache hit</th></tr>
{{range .Rows}}<tr><td>{{.Name}}</td><td>{{.S.Requests}}</td><td>{{.S.Successes}}</td><td{{if .S.Errors}} class="err"{{end}}>{{.S.Errors}}</td>
<td>{{ms .S.Latency.P50}}</td><td>{{ms .S.Latency.P90}}</td><td>{{ms .S.Latency.P99}}</td><td>{{ms .S.Latency.P999}}</td><td>{{ms .S.Latency.Max}}</td><td>{{ms .S.Latency.Mean}}</td><td>{{ms .S.ServiceTime.P99}}</td><td>{{pctp .S.HitRatio}}</td></tr>
{{end}}</table>

{{with .R.Uploads}}<h2>Uploads: message → variants in S3</h2>
<p>Latency above is each message's lag: from its intended send time to the listing of {{.Bucket}} that first held the last of its variants (late by at most one poll, {{ms .PollMs}} ms, plus one listing).</p>
<table>
<tr><th>messages awaited / poison</th><td>{{.Messages}} / {{.Poison}}</td></tr>
<tr><th>lost (variants not all listed within {{f1 .DeadlineS}} s)</th><td{{if .Lost}} class="err"{{end}}>{{.Lost}}</td></tr>
<tr><th>send errors</th><td{{if .SendErrors}} class="err"{{end}}>{{.SendErrors}}</td></tr>
<tr><th>variants stored / expected</th><td{{if ne .VariantsStored .VariantsExpected}} class="err"{{end}}>{{.VariantsStored}} / {{.VariantsExpected}}</td></tr>
<tr><th>dead-letter queue at the end</th><td>{{if lt .DeadLetter 0}}–{{else}}{{.DeadLetter}}{{end}}</td></tr>
<tr><th>left in the queue</th><td>{{if lt .QueueLeft 0}}–{{else}}{{.QueueLeft}}{{end}}</td></tr>
<tr><th>presets (folders)</th><td>{{range .Presets}}<code>{{.}}</code> {{end}}</td></tr>
<tr><th>sources</th><td>{{.SourceWidth}}×{{.SourceHeight}} JPEG, {{.SourceBytes}} bytes, under <code>{{.Prefix}}</code> (put in {{f1 .UploadS}} s before the first message)</td></tr>
<tr><th>envelopes</th><td>{{range .Envelopes}}{{.}} {{end}}</td></tr>
<tr><th>listings</th><td>{{.Lists}}{{with .ListError}} <span class="err">last error: {{.}}</span>{{end}}</td></tr>
</table>{{end}}

<h2>Status codes and errors</h2>
<table><tr><th>status</th><th>count</th></tr>
{{range $k := sorted .R.Total.Status}}<tr><td>{{$k}}</td><td>{{index $.R.Total.Status $k}}</td></tr>{{end}}
</table>
{{if .R.Total.ErrorsByCause}}<table><tr><th>error cause</th><th>count</th></tr>
{{range $k := sorted .R.Total.ErrorsByCause}}<tr><td>{{$k}}</td><td class="err">{{index $.R.Total.ErrorsByCause $k}}</td></tr>{{end}}
</table>{{else}}<p>No errors.</p>{{end}}

{{if .R.Total.XCache}}<h2>Image cache (X-Cache)</h2>
<table><tr><th>X-Cache</th><th>count</th></tr>
{{range $k := sorted .R.Total.XCache}}<tr><td>{{$k}}</td><td>{{index $.R.Total.XCache $k}}</td></tr>{{end}}
<tr><th>hit ratio</th><td>{{pctp .R.Total.HitRatio}}</td></tr></table>{{end}}

{{with .R.Reloads}}<h2>Rules reloads</h2>
<table><tr><th>every</th><td>{{f1 .EverySeconds}} s</td></tr><tr><th>ok</th><td>{{.OK}}</td></tr><tr><th>failed</th><td>{{.Failed}}</td></tr>
{{with .LastError}}<tr><th>last error</th><td class="err">{{.}}</td></tr>{{end}}</table>{{end}}

{{with .R.GeoIP}}<h2>GeoIP client addresses</h2>
<p>{{.PoolSize}} addresses sampled from {{range .Files}}<code>{{.}}</code> {{end}} in proportion to located IPv4 space. Largest shares (database):</p>
<table><tr><th>location</th><th>share of space</th><th>requests</th></tr>
{{range .TopShares}}<tr><td>{{.Label}}</td><td>{{pct .Share}}</td><td>{{index $.R.Total.Locations .Label}}</td></tr>{{end}}</table>{{end}}

<h2>Latency over time</h2>
{{if .LatencyPlot}}<iframe title="latency over time" srcdoc="{{.LatencyPlot}}"></iframe>{{else}}<p>No results.</p>{{end}}

<h2>Latency by percentile</h2>
{{.Percentiles}}

{{if .Metrics}}<h2>Gateway metrics ({{len .R.Metrics}} samples)</h2>
<div class="charts">{{range .Metrics}}{{.}}{{end}}</div>{{end}}
</body></html>
`))

type xy struct{ X, Y float64 }

// tick is an x-axis label at X.
type tick struct {
	X     float64
	Label string
}

// chart renders a line chart as inline SVG. xTicks, when given, label the
// x axis at those values.
func chart(title, yUnit string, pts []xy, xTicks []tick, xUnit string) template.HTML {
	const W, H, L, R, T, B = 560.0, 300.0, 64.0, 16.0, 28.0, 36.0
	if len(pts) == 0 {
		return ""
	}
	minX, maxX := pts[0].X, pts[0].X
	maxY := 0.0
	for _, p := range pts {
		minX, maxX, maxY = math.Min(minX, p.X), math.Max(maxX, p.X), math.Max(maxY, p.Y)
	}
	if maxX == minX {
		maxX = minX + 1
	}
	if maxY <= 0 {
		maxY = 1
	}
	maxY = niceCeil(maxY)
	sx := func(x float64) float64 { return L + (x-minX)/(maxX-minX)*(W-L-R) }
	sy := func(y float64) float64 { return H - B - y/maxY*(H-T-B) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-size="11" font-family="sans-serif">`, W, H, W, H)
	fmt.Fprintf(&b, `<text x="%g" y="16" font-size="13" font-weight="bold">%s</text>`, L, template.HTMLEscapeString(title))
	for i := 0; i <= 4; i++ {
		y := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, L, W-R, sy(y), sy(y))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, L-4, sy(y)+4, template.HTMLEscapeString(short(y)+yUnit))
	}
	if xTicks == nil {
		for i := 0; i <= 4; i++ {
			x := minX + (maxX-minX)*float64(i)/4
			xTicks = append(xTicks, tick{x, short(x) + xUnit})
		}
	}
	for _, tk := range xTicks {
		x, label := tk.X, tk.Label
		if x < minX || x > maxX {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#e4e4e4"/>`, sx(x), sx(x), T, H-B)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, sx(x), H-B+16, template.HTMLEscapeString(label))
	}
	b.WriteString(`<polyline fill="none" stroke="#297373" stroke-width="1.8" points="`)
	for _, p := range pts {
		fmt.Fprintf(&b, "%.1f,%.1f ", sx(p.X), sy(p.Y))
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped labels
}

func short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func percentileChart(d []stats.Point) template.HTML {
	pts := make([]xy, 0, len(d))
	for _, p := range d {
		x := 5.0
		if p.Percentile < 100 {
			x = math.Min(5, math.Log10(1/(1-p.Percentile/100)))
		}
		pts = append(pts, xy{x, p.Millis})
	}
	ticks := []tick{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}, {5, "99.999%+"}}
	return chart("latency (ms) by percentile", "", pts, ticks, "")
}

func metricCharts(r *Report) []template.HTML {
	var out []template.HTML
	series := []struct {
		title, unit string
		scale       float64
		get         func(i int) *float64
	}{
		{"resident memory (MiB)", "", 1.0 / (1 << 20), func(i int) *float64 { return r.Metrics[i].RSSBytes }},
		{"goroutines", "", 1, func(i int) *float64 { return r.Metrics[i].Goroutines }},
		{"image cache (MiB)", "", 1.0 / (1 << 20), func(i int) *float64 { return r.Metrics[i].CacheBytes }},
		{"image cache hit ratio (%, per interval)", "", 100, func(i int) *float64 { return r.Metrics[i].HitRatio }},
	}
	for _, s := range series {
		var pts []xy
		for i := range r.Metrics {
			if v := s.get(i); v != nil {
				pts = append(pts, xy{r.Metrics[i].T, *v * s.scale})
			}
		}
		if len(pts) > 0 {
			out = append(out, chart(s.title, s.unit, pts, nil, "s"))
		}
	}
	return out
}
