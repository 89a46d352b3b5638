package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgegate/edgegate/rules"
)

// AdminConfig hardens the admin listener (admin_listen).
type AdminConfig struct {
	// Hosts lists the names, besides IP literals and localhost, that
	// requests may carry in Host (a DNS-rebinding page carries its own
	// name: it gets 421). Default none.
	Hosts []string `yaml:"hosts"`
	// Token, when set, is required as "Authorization: Bearer TOKEN" by the
	// mutating endpoints (POST /-/reload, POST /events/s3, which also
	// accepts events.token). Unset, they answer 403 unless admin_listen is
	// loopback-only (env EDGEGATE_ADMIN_TOKEN overrides).
	Token string `yaml:"token"`
	// ReadTimeout bounds reading one request, head and body. Default 10s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one answer; it must exceed the longest
	// profile asked of /debug/pprof/profile (?seconds=, 30 by default).
	// Default 60s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

func (c AdminConfig) validate() error {
	var errs []error
	if c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 {
		errs = append(errs, errors.New("config: admin.read_timeout, admin.write_timeout and admin.idle_timeout must be positive"))
	}
	for _, h := range c.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ []") {
			errs = append(errs, fmt.Errorf("config: admin.hosts: %q: want a host name without port", h))
		}
	}
	return errors.Join(errs...)
}

// loopbackOnly reports whether an admin_listen address accepts only
// loopback connections: localhost or a loopback IP (":9090" and
// "0.0.0.0:9090" listen everywhere).
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdminHandler returns the admin listener's handler: requests whose Host
// is not the admin's own are refused (421), and so are cross-origin
// browser requests that would change state (403).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /-/reload", s.reloadHandler)
	mux.HandleFunc("GET /debug/rules", s.debugRules)
	mux.HandleFunc("GET /debug/geo", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.geodb.Status())
	})
	mux.HandleFunc("GET /debug/explain", s.debugExplain)
	mux.HandleFunc("GET /debug/tls", s.debugTLS)
	mux.HandleFunc("POST /events/s3", s.eventsHandler)
	mux.HandleFunc("POST /events/sns", s.snsHandler)
	// Profiling, on the admin listener only (loopback by default).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mountConsole(mux) // GET / and /console/: the web console (consoleapi.go)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.adminRefuse(w, r, http.StatusForbidden, "cross_origin", "cross-origin browser requests may not change state")
	}))
	return s.adminHostCheck(cop.Handler(mux))
}

// adminHostCheck answers only requests whose Host is an IP literal,
// localhost or one of admin.hosts: a browser led to the admin listener by
// DNS rebinding sends the attacker's name and gets 421 Misdirected Request.
// A request without Host (HTTP/1.0) names nothing to rebind and passes.
func (s *Server) adminHostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.adminHostAllowed(r.Host) {
			s.adminRefuse(w, r, http.StatusMisdirectedRequest, "host",
				"host "+truncate(r.Host, 64)+" is not this admin listener's; add it to admin.hosts")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) adminHostAllowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		return true
	}
	for _, h := range s.cfg.Admin.Hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// adminRefuse answers a refused admin request with a JSON error and counts
// it by reason.
func (s *Server) adminRefuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	if strings.HasPrefix(r.URL.Path, "/events/") {
		s.metrics.eventsRefused.WithLabelValues(reason).Inc()
	} else {
		s.metrics.adminRefused.WithLabelValues(reason).Inc()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, errorBody{Error: msg, Status: status})
}

// bearer reports whether r carries "Authorization: Bearer T" for one of
// the non-empty tokens (constant-time comparisons), and whether it carries
// an Authorization header at all.
func bearer(r *http.Request, tokens ...string) (ok, presented bool) {
	h := r.Header.Get("Authorization")
	got, isBearer := strings.CutPrefix(h, "Bearer ")
	for _, tok := range tokens {
		if isBearer && tok != "" && subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 {
			ok = true
		}
	}
	return ok, h != ""
}

// mutationAllowed checks a state-changing admin request: the admin token
// when one is set; without one, only on a loopback-only admin listener.
// It answers the refusal itself and returns false.
func (s *Server) mutationAllowed(w http.ResponseWriter, r *http.Request) bool {
	ok, presented := bearer(r, s.cfg.Admin.Token)
	switch {
	case ok:
		return true
	case s.cfg.Admin.Token != "" || presented:
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgegate-admin"`)
		s.adminRefuse(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
		return false
	case !s.adminLoopback:
		s.adminRefuse(w, r, http.StatusForbidden, "no_token",
			"the admin listener is not loopback-only and admin.token is not set: this endpoint is off")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) reloadHandler(w http.ResponseWriter, r *http.Request) {
	if !s.mutationAllowed(w, r) {
		return
	}
	if err := s.Reload(); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"reloaded": false, "error": err.Error(), "rules": s.rules.Table().Hash(),
			"note": "the previous rules and GeoIP databases keep serving"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reloaded": true, "rules": s.rules.Table().Hash()})
}

func (s *Server) debugRules(w http.ResponseWriter, r *http.Request) {
	st := s.rules.Status()
	out := map[string]any{
		"version": st.Hash, "source": st.Path, "loaded_at": st.LoadedAt.UTC().Format(time.RFC3339Nano),
		"regions": st.Regions, "routes": st.Routes, "reloads": st.Reloads, "failures": st.Failures,
		"last_error": st.LastError,
	}
	if !st.LastErrorAt.IsZero() {
		out["last_error_at"] = st.LastErrorAt.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) debugExplain(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ex, err := s.Explain(r.Context(), ExplainRequest{
		Key: q.Get("key"), Peer: q.Get("ip"), Region: q.Get("region"), Headers: q["header"],
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Status: http.StatusBadRequest})
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func bucketsOf(t *rules.Table) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range t.Routes() {
		if !seen[r.Bucket] {
			seen[r.Bucket] = true
			out = append(out, r.Bucket)
		}
	}
	return out
}
