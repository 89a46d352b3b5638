package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/edgegate/edgegate/resize"
)

const dashboardFile = "../deploy/grafana/edgegate.json"

// dashboardAllowance lists metrics the dashboard may query before they are
// registered: series another part of issue 14 adds. Empty once they land.
var dashboardAllowance = map[string]string{}

// TestDashboardMetricsExist: every metric a PromQL expression of the
// Grafana dashboard reads is exported by a live gateway (HTTPS on, images
// on) once it has answered a few /r/ and /img/ requests.
func TestDashboardMetricsExist(t *testing.T) {
	exprs := dashboardExprs(t, dashboardFile)
	if len(exprs) < 20 {
		t.Fatalf("%d expressions in %s; the dashboard lost its panels?", len(exprs), dashboardFile)
	}
	g := startTLSGateway(t, withImages(), func(c *Config) { c.TLS.PlainHTTP = "serve" })
	keys, _ := resize.DecodeKeys([]string{testSigningKey})
	custom := "/img/200x100-cover/photos/sample.jpg"
	custom += "?sig=" + resize.Sign(keys[0], custom)
	for _, c := range []*http.Client{noRedirect, tlsClient(g.pool, false), tlsClient(g.pool, true)} {
		for _, base := range []string{g.base, g.https} {
			if c == noRedirect && base == g.https {
				continue
			}
			for _, p := range []string{"/r/map-tiles.zip?region=uk-london", "/r/map-tiles.zip?region=nowhere",
				"/img/thumbnail/photos/sample.jpg", custom} {
				resp, err := c.Get(base + p)
				if err != nil {
					t.Fatalf("GET %s%s: %v", base, p, err)
				}
				resp.Body.Close()
			}
		}
	}
	fams := scrape(t, g.testGateway)
	for _, e := range exprs {
		for _, name := range promQLNames(e) {
			if exported(fams, name) {
				continue
			}
			if why, ok := dashboardAllowance[name]; ok {
				t.Logf("%s not exported yet: allowed (%s)", name, why)
				continue
			}
			t.Errorf("dashboard queries %s, which the gateway does not export (in %s)", name, e)
		}
	}
}

// exported reports whether name is a series family in fams, or the
// _bucket, _sum or _count series of a histogram (or the last two of a
// summary) there.
func exported(fams map[string]*dto.MetricFamily, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch fams[base].GetType() {
		case dto.MetricType_HISTOGRAM:
			return true
		case dto.MetricType_SUMMARY:
			return suffix != "_bucket"
		}
	}
	return false
}

// labelValues is Grafana's variable query label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

// dashboardExprs returns every PromQL expression of a Grafana dashboard:
// panel targets' expr (rows' nested panels too) and the metric of each
// label_values variable, as an expression of its own.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		SchemaVersion int                     `json:"schemaVersion"`
		Inputs        []struct{ Name string } `json:"__inputs"`
		Panels        []dashboardPanel        `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string          `json:"name"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.SchemaVersion < 36 || !slices.ContainsFunc(d.Inputs, func(i struct{ Name string }) bool { return i.Name == "DS_PROMETHEUS" }) {
		t.Errorf("%s: schemaVersion %d, inputs %v; want a recent schema and a DS_PROMETHEUS input", path, d.SchemaVersion, d.Inputs)
	}
	var exprs []string
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q has a target without an expression", path, p.Title)
					continue
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			json.Unmarshal(v.Query, &q.Query) // a plain string
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(q.Query))
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(metric, label)", path, v.Name, q.Query)
			continue
		}
		exprs = append(exprs, m[1]+m[2])
	}
	return exprs
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"`
}

// promQL words that are never metric names where they stand: operators
// and modifiers. Function and aggregation names are recognised by what
// follows them.
var promQLKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
	"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	"atan2": true,
}

// promQLAggregations may be followed by by/without before their
// parenthesis: sum by (code) (rate(x[5m])).
var promQLAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// promQLNames returns the metric names a PromQL expression reads, in
// order, each once: identifiers that stand as selectors (alone, before
// `{`, `[`, an operator, a comma or a parenthesis that closes), and the
// string of a {__name__="..."} matcher. Skipped: strings, label matchers
// and grouping lists, durations and subqueries in brackets, numbers,
// Grafana variables ($x, ${x}), function and aggregation names (an
// identifier before `(`, or an aggregation before by/without), keywords.
// It is no validator: on malformed input it returns what it found.
func promQLNames(expr string) []string {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
		return i
	}
	// skipString returns the index after the string literal opening at i.
	skipString := func(i int) int {
		q := expr[i]
		for i++; i < len(expr); i++ {
			switch {
			case expr[i] == '\\' && q != '`':
				i++
			case expr[i] == q:
				return i + 1
			}
		}
		return len(expr)
	}
	// skipGroup returns the index after the bracket closing the one at i
	// (strings inside skipped), and calls matcher for {…} contents.
	skipGroup := func(i int, open, close byte) int {
		depth := 0
		for i < len(expr) {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				i = skipString(i)
				continue
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(expr)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(i)
		case c == '{':
			end := skipGroup(i, '{', '}')
			add(nameMatcher(expr[i:end]))
			i = end
		case c == '[':
			i = skipGroup(i, '[', ']')
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				i = skipGroup(i, '{', '}')
				continue
			}
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			start := i
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := skipSpace(i)
			lower := strings.ToLower(word)
			switch {
			case lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" ||
				lower == "group_left" || lower == "group_right":
				if next < len(expr) && expr[next] == '(' {
					i = skipGroup(next, '(', ')')
				}
			case next < len(expr) && expr[next] == '(':
				// a function or an aggregation
			case promQLAggregations[lower] && next < len(expr) && isStart(expr[next]):
				// sum by (...) / sum without (...)
			case promQLKeywords[lower]:
			default:
				add(word)
			}
		default:
			i++
		}
	}
	return names
}

// nameMatcher returns the value of a __name__="..." matcher in a {…}
// label matcher list, or "".
func nameMatcher(m string) string {
	i := strings.Index(m, "__name__")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(m[i+len("__name__"):], " \t")
	if !strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, "=~") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		return ""
	}
	end := strings.IndexByte(rest[1:], rest[0])
	if end < 0 {
		return ""
	}
	name := rest[1 : 1+end]
	if !validMetricName(name) {
		return ""
	}
	return name
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func validMetricName(s string) bool { return metricNameRE.MatchString(s) }

func TestPromQLNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (code) (rate(edgegate_requests_total{instance=~"$instance"}[$__rate_interval]))`, []string{"edgegate_requests_total"}},
		{`histogram_quantile(0.99, sum by (le, route) (rate(edgegate_request_duration_seconds_bucket{a="b"}[5m])))`,
			[]string{"edgegate_request_duration_seconds_bucket"}},
		{`sum(rate(a_total{code=~"5.."}[1m])) / sum without (x) (rate(b_total[1m]))`, []string{"a_total", "b_total"}},
		{`time() - max(edgegate_rules_loaded_timestamp_seconds)`, []string{"edgegate_rules_loaded_timestamp_seconds"}},
		{`min by (name) (x_seconds) - time()`, []string{"x_seconds"}},
		{`a / on (instance) group_left (version) b`, []string{"a", "b"}},
		{`a and bool b or c unless d offset 5m`, []string{"a", "b", "c", "d"}},
		{`{__name__="via_matcher", job="x"}`, []string{"via_matcher"}},
		{`rate(x{l="}{ [ ( \" by"}[5m:1m] @ 123) > 1e3`, []string{"x"}},
		{`count_values("v", build_info)`, []string{"build_info"}},
		{`topk(3, sum by (operation) (rate(s3_total[${__rate_interval}])))`, []string{"s3_total"}},
		{`label_replace(up, "a", "$1", "b", "(.*)")`, []string{"up"}},
		{`x + x`, []string{"x"}},
		{`Inf + NaN * 0x1F`, nil},
		{`sum`, []string{"sum"}}, // a metric may be named like an aggregation
	} {
		if got := promQLNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("promQLNames(%q) = %q; want %q", tt.expr, got, tt.want)
		}
	}
}

// FuzzPromQLNames: any input ends, returns only valid metric names, each
// once, and a selector wrapped the way the dashboard's queries are is
// always found.
func FuzzPromQLNames(f *testing.F) {
	for _, s := range []string{`up`, `sum by (code) (rate(a_total{x="y"}[5m]))`, `{__name__="a"}`, `"unterminated`,
		`{`, `[`, `$`, `${`, `a{b="\"}"}`, `histogram_quantile(0.9, sum by (le) (rate(x_bucket[1m])))`, "`raw` x"} {
		f.Add(s, "edgegate_requests_total")
	}
	f.Fuzz(func(t *testing.T, expr, metric string) {
		names := promQLNames(expr)
		for i, n := range names {
			if !validMetricName(n) || slices.Contains(names[:i], n) {
				t.Fatalf("promQLNames(%q) = %q: %q is not a valid name or repeats", expr, names, n)
			}
		}
		if !validMetricName(metric) || promQLKeywords[strings.ToLower(metric)] || promQLAggregations[strings.ToLower(metric)] {
			return
		}
		wrapped := `sum by (le, route) (rate(` + metric + `{instance=~"$instance"}[$__rate_interval])) / ` + metric
		if got := promQLNames(wrapped); !slices.Equal(got, []string{metric}) {
			t.Fatalf("promQLNames(%q) = %q; want [%q]", wrapped, got, metric)
		}
	})
}
