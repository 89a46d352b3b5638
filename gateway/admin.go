package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgegate/edgegate/rules"
)

// AdminHandler returns the admin listener's handler.
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
	mux.HandleFunc("POST /events/s3", s.eventsHandler)
	// Profiling, on the admin listener only (loopback by default).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) reloadHandler(w http.ResponseWriter, r *http.Request) {
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

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	type check struct {
		Ready bool   `json:"ready"`
		Rules string `json:"rules,omitempty"`
		Error string `json:"error,omitempty"`
	}
	t := s.rules.Table()
	if s.shuttingDown.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(check{Error: "shutting down"})
		return
	}
	if t == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(check{Error: "no rules loaded"})
		return
	}
	if err := s.store.Ping(r.Context(), bucketsOf(t)...); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(check{Rules: t.Hash(), Error: "S3 unreachable: " + err.Error()})
		return
	}
	json.NewEncoder(w).Encode(check{Ready: true, Rules: t.Hash()})
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
