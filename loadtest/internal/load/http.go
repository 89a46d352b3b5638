package load

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/edgegate/edgegate/loadtest/internal/scenario"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// Error causes for requests that got no usable response.
const (
	CauseTimeout   = "timeout"
	CauseRefused   = "connection refused"
	CauseReset     = "connection reset"
	CauseEOF       = "connection closed (EOF)"
	CauseCanceled  = "canceled"
	CauseDNS       = "dns"
	CauseBodyRead  = "body read"
	CauseBadTarget = "bad request"
	CauseOther     = "other"
)

// NewClient returns an HTTP client for load: no redirects followed (a 302 is
// an answer), no transparent decompression, keep-alive pools sized for
// conns, and a per-request timeout.
func NewClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Send performs t against base and returns its result; latency runs from
// intended.
func Send(ctx context.Context, c *http.Client, base *url.URL, t scenario.Target, intended time.Time) stats.Result {
	res := stats.Result{Name: t.Name, Location: t.Location}
	u := base.String() + t.Path
	req, err := http.NewRequestWithContext(ctx, t.Method, u, nil)
	if err != nil {
		res.Cause = CauseBadTarget
		return res
	}
	for k, v := range t.Header {
		req.Header[k] = v
	}
	sent := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		res.Cause = Classify(err)
		end := time.Now()
		res.Latency, res.Service = end.Sub(intended), end.Sub(sent)
		return res
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	end := time.Now()
	res.Latency, res.Service = end.Sub(intended), end.Sub(sent)
	res.Status = resp.StatusCode
	res.Bytes = n
	res.XCache = resp.Header.Get("X-Cache")
	if err != nil {
		res.Cause = CauseBodyRead
	}
	return res
}

// Classify names the cause of a transport error.
func Classify(err error) string {
	var ne net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled):
		return CauseCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return CauseTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return CauseTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CauseReset
	case errors.As(err, &dnsErr):
		return CauseDNS
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "EOF"):
		return CauseEOF
	}
	return CauseOther
}
