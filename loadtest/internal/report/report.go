// Package report writes a load-test run's results: the JSON document and a
// self-contained HTML page (summary tables, vegeta's latency-over-time plot
// embedded in an iframe's srcdoc, and inline SVG charts for the latency
// percentile distribution and the gateway's watched metrics). It computes
// nothing about the run itself.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/loadtest/internal/load"
	"github.com/edgegate/edgegate/loadtest/internal/sample"
	"github.com/edgegate/edgegate/loadtest/internal/scrape"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// Report is the result of one run; its JSON form is the --json output.
type Report struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	Target      string `json:"target"`
	// Mode is "open" (fixed rate) or "closed" (max throughput).
	Mode string `json:"mode"`
	// Client is the HTTP client, "net" or "raw" (--client); Conns its
	// connection pool size (--conns).
	Client  string `json:"client,omitempty"`
	Conns   int    `json:"conns,omitempty"`
	Seed    uint64 `json:"seed"`
	Started string `json:"started"` // RFC 3339
	// DurationS is the requested duration; ElapsedS the measured one
	// (until the last response).
	DurationS float64 `json:"duration_s"`
	ElapsedS  float64 `json:"elapsed_s"`
	// RequestedRate is --rate (0 in closed loop); SentRate is requests
	// sent per second over the requested duration; Throughput is responses
	// per second over the elapsed time; SuccessRate counts only successes.
	RequestedRate float64         `json:"requested_rate"`
	SentRate      float64         `json:"sent_rate"`
	Throughput    float64         `json:"throughput"`
	SuccessRate   float64         `json:"success_throughput"`
	Schedule      load.Accounting `json:"schedule"`
	Total         stats.Summary   `json:"total"`
	// ByRequest is keyed by the scenario's request names.
	ByRequest    map[string]stats.Summary `json:"by_request"`
	Distribution []stats.Point            `json:"latency_distribution,omitempty"`
	Reloads      *Reloads                 `json:"reloads,omitempty"`
	GeoIP        *GeoIP                   `json:"geoip,omitempty"`
	Metrics      []scrape.Sample          `json:"metrics,omitempty"`
	// Uploads is the uploads scenario's own part (loadtest uploads):
	// latencies above are then each message's lag, from its intended
	// send to the last of its variants listed in S3.
	Uploads *Uploads `json:"uploads,omitempty"`
	// Order lists ByRequest's keys in scenario order (not in JSON).
	Order []string `json:"-"`
}

// Reloads counts POST /-/reload calls made during the run.
type Reloads struct {
	EverySeconds float64          `json:"every_s"`
	OK           uint64           `json:"ok"`
	Failed       uint64           `json:"failed"`
	ByStatus     map[string]int64 `json:"by_status,omitempty"`
	LastError    string           `json:"last_error,omitempty"`
}

// GeoIP describes the address pool route-geoip requests drew from.
type GeoIP struct {
	Files     []string            `json:"files"`
	PoolSize  int                 `json:"pool_size"`
	TopShares []sample.LabelShare `json:"top_shares"`
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteFile writes to path through a temporary file, renamed into place.
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".loadtest-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
