package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/rules"
)

// Explanation is the whole decision for one request, for humans: `edgegate
// explain` and the admin /debug/explain. Unlike the public JSON answer it
// includes the client IP and location.
type Explanation struct {
	Key       string `json:"key"`
	RulesHash string `json:"rules_hash"`
	RulesFile string `json:"rules_file"`

	Peer           string        `json:"peer,omitempty"`
	ClientIP       string        `json:"client_ip,omitempty"`
	ClientIPSource string        `json:"client_ip_source,omitempty"` // peer | x-forwarded-for | header
	HeaderLocation *geo.Location `json:"header_location,omitempty"`
	GeoIPLocation  *geo.Location `json:"geoip_location,omitempty"`
	GeoIPDatabase  string        `json:"geoip_database,omitempty"`

	Candidates   []ExplainCandidate `json:"region_candidates"`
	Region       string             `json:"region"`
	RegionSource string             `json:"region_source"`

	Routes   []ExplainRoute  `json:"routes_tried"`
	Rule     string          `json:"rule,omitempty"`
	Fallback []ExplainPrefix `json:"prefixes"`

	Bucket    string `json:"bucket,omitempty"`
	ObjectKey string `json:"object_key,omitempty"`
	Delivery  string `json:"delivery,omitempty"`
	// Image is the image policy of the region and route, when the rules
	// give one or client hints are on (imagepolicy.go).
	Image *ExplainImage `json:"image_policy,omitempty"`

	Error  string `json:"error,omitempty"`
	Status int    `json:"status"`
}

// ExplainCandidate is one region source consulted, in precedence order.
type ExplainCandidate struct {
	Source string `json:"source"`
	Region string `json:"region,omitempty"` // empty: this source matched no region
	Detail string `json:"detail"`
}

// ExplainRoute is one route tried, in file order, up to the first match.
type ExplainRoute struct {
	Name    string `json:"name"`
	Match   string `json:"match"`
	Matched bool   `json:"matched"`
}

// ExplainPrefix is one step of the region's prefix chain.
type ExplainPrefix struct {
	Prefix  string `json:"prefix"`
	Checked bool   `json:"checked"` // an existence check ran (fallback: exists)
	Exists  bool   `json:"exists,omitempty"`
	Cached  bool   `json:"cached,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (e *Explanation) candidate(source string, r *rules.Region, detail string) {
	c := ExplainCandidate{Source: source, Detail: detail}
	if r != nil {
		c.Region = r.Name
	}
	e.Candidates = append(e.Candidates, c)
}

// ExplainRequest describes a request to explain.
type ExplainRequest struct {
	Key string
	// Peer is the TCP peer address (the client, unless it is a trusted
	// proxy whose headers name the client). Empty: no address.
	Peer string
	// Region is the ?region= value; empty means absent.
	Region string
	// Headers are request headers ("Name: value").
	Headers []string
}

// Explain runs the same decision as the public /r/ endpoint and reports
// every step. Bad input is reported in the Explanation (Error, Status),
// not as a Go error; the error return is for malformed ExplainRequests.
func (s *Server) Explain(ctx context.Context, er ExplainRequest) (*Explanation, error) {
	t := s.rules.Table()
	ex := &Explanation{Key: er.Key, RulesHash: t.Hash(), RulesFile: t.Source(), Status: 200}
	// The public path's one header reader, so that repeated lines mean
	// what they mean there (X-Forwarded-For lines joined, else the last).
	h := headerMap{}
	rh := &reqHeaders{}
	rh.reset(h)
	for _, line := range er.Headers {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("gateway: header %q: want \"Name: value\"", line)
		}
		name, value := textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), []byte(strings.TrimSpace(v))
		h[name] = value
		rh.see([]byte(name), value)
	}
	req := request{headers: rh}
	if er.Peer != "" {
		ip, err := netip.ParseAddr(er.Peer)
		if err != nil {
			return nil, fmt.Errorf("gateway: ip %q: %w", er.Peer, err)
		}
		req.peer = ip.Unmap()
		ex.Peer = req.peer.String()
	}
	if er.Region != "" {
		req.region = []byte(er.Region)
	}
	key, kerr := validKeyString(er.Key)
	if kerr != nil {
		ex.Error, ex.Status = kerr.Msg, kerr.Status
		return ex, nil
	}
	req.key = key
	d, derr := s.decide(ctx, t, req, ex)
	if derr != nil {
		ex.Error, ex.Status = derr.Msg, derr.Status
	}
	if d.Route != nil {
		ex.Bucket, ex.Delivery = d.Bucket, d.Route.Delivery.String()
		if d.imagePolicy() != nil || s.cfg.Images.ClientHints || d.Route.ImagePolicyVaries() {
			ex.Image = s.explainImage(&d, h)
		}
	}
	ex.ObjectKey = d.ObjectKey
	return ex, nil
}

// headerMap holds explain's headers by canonical name, last line winning,
// for the names reqHeaders does not keep.
type headerMap map[string][]byte

func (h headerMap) Peek(k string) []byte { return h[textproto.CanonicalMIMEHeaderKey(k)] }

func validKeyString(k string) (string, *Error) {
	if err := validKey(k); err != nil {
		return "", err
	}
	return k, nil
}

func quote(s string) string { return strconv.Quote(s) }

func joinQuoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
