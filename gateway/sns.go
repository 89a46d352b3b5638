package gateway

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgegate/edgegate/snsverify"
)

// SNSConfig configures admin POST /events/sns, the HTTPS endpoint an SNS
// topic's subscription delivers to (for users who subscribe an endpoint
// rather than a queue to their bucket's notifications).
type SNSConfig struct {
	// Topics lists the topic ARNs whose subscriptions are confirmed and
	// whose notifications are accepted; messages of any other topic are
	// refused (403). Empty (default): the endpoint is off (404).
	Topics []string `yaml:"topics"`
	// HostPattern, MaxAge, CertCache: where signing certificates and
	// SubscribeURLs may come from (https only; default
	// sns.<region>.amazonaws.com), how old a message may be (default 1h),
	// how many certificates are cached (default 16). See snsverify.Config.
	snsverify.Config `yaml:",inline"`
	// CAFile, when set, is a PEM file of the CAs trusted for the HTTPS
	// fetches (signing certificates, SubscribeURL) instead of the system's:
	// for tests and SNS-compatible services with a private CA.
	CAFile string `yaml:"ca_file"`
	// MaxBodyBytes bounds a message's body, in bytes (an SNS message is at
	// most 256 KiB before its envelope and JSON escaping). Default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

func defaultSNSConfig() SNSConfig {
	return SNSConfig{Config: snsverify.DefaultConfig(), MaxBodyBytes: 1 << 20}
}

func (c SNSConfig) validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("config: events.sns: %w", err))
	}
	for _, t := range c.Topics {
		if !strings.HasPrefix(t, "arn:") || strings.Count(t, ":") != 5 {
			errs = append(errs, fmt.Errorf("config: events.sns.topics: %q is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", t))
		}
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("config: events.sns.max_body_bytes must be positive, not %d", c.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// snsEndpoint verifies SNS messages and confirms subscriptions. It is
// safe for concurrent use.
type snsEndpoint struct {
	verifier *snsverify.Verifier
	client   *http.Client // follows no redirect
}

func newSNSEndpoint(c SNSConfig) (*snsEndpoint, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config: events.sns.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: events.sns.ca_file: %s holds no PEM certificate", c.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	v, err := snsverify.New(c.Config, client)
	if err != nil {
		return nil, fmt.Errorf("config: events.sns: %w", err)
	}
	return &snsEndpoint{verifier: v, client: client}, nil
}

// snsHandler serves POST /events/sns: a message from a listed topic,
// signed by SNS and fresh, either confirms the subscription (GET its
// SubscribeURL, an SNS URL) or, a Notification, has its Message (an S3
// event notification) queued as POST /events/s3 would. Anything else is
// refused with a JSON error, counted by reason.
func (s *Server) snsHandler(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Events.SNS
	if len(c.Topics) == 0 {
		s.adminRefuse(w, r, http.StatusNotFound, "sns_off", "events.sns.topics is empty: the SNS endpoint is off")
		return
	}
	if !s.snsAllowed(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, c.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > c.MaxBodyBytes {
		s.adminRefuse(w, r, http.StatusRequestEntityTooLarge, "body",
			"SNS message unreadable or over events.sns.max_body_bytes ("+strconv.FormatInt(c.MaxBodyBytes, 10)+")")
		return
	}
	m, err := snsverify.Parse(body)
	if err != nil {
		s.adminRefuse(w, r, http.StatusBadRequest, "sns_malformed", err.Error())
		return
	}
	if !slices.Contains(c.Topics, m.TopicARN) {
		s.adminRefuse(w, r, http.StatusForbidden, "sns_topic",
			"topic "+strconv.Quote(truncate(m.TopicARN, 256))+" is not in events.sns.topics")
		return
	}
	if err := s.sns.verifier.Verify(r.Context(), m); err != nil {
		switch {
		case errors.Is(err, snsverify.ErrStale):
			s.adminRefuse(w, r, http.StatusBadRequest, "sns_stale", err.Error())
		case errors.Is(err, snsverify.ErrCertFetch):
			s.log.Warn("sns: signing certificate unavailable", "url", m.SigningCertURL, "err", err)
			w.Header().Set("Retry-After", "5")
			s.adminRefuse(w, r, http.StatusServiceUnavailable, "sns_cert", "the signing certificate could not be fetched; retry")
		default: // unsigned, bad signature, certificate URL not SNS's
			s.adminRefuse(w, r, http.StatusForbidden, "sns_signature", err.Error())
		}
		return
	}
	switch m.Type {
	case snsverify.TypeSubscriptionConfirmation:
		s.snsConfirm(w, r, m)
	case snsverify.TypeUnsubscribeConfirmation:
		s.log.Info("sns: unsubscribed", "topic", m.TopicARN)
		writeJSON(w, http.StatusOK, map[string]any{"unsubscribed": m.TopicARN})
	default:
		s.queueS3Event(w, r, []byte(m.Message))
	}
}

// snsConfirm confirms a verified subscription of a listed topic by GETting
// its SubscribeURL, which must be an SNS URL too.
func (s *Server) snsConfirm(w http.ResponseWriter, r *http.Request, m snsverify.Message) {
	if !s.sns.verifier.URLAllowed(m.SubscribeURL) {
		s.adminRefuse(w, r, http.StatusForbidden, "sns_subscribe_url",
			"SubscribeURL "+strconv.Quote(truncate(m.SubscribeURL, 256))+" is not an SNS URL")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.SubscribeURL, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = s.sns.client.Do(req); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
	}
	if err != nil {
		s.log.Warn("sns: confirming the subscription failed", "topic", m.TopicARN, "err", err)
		w.Header().Set("Retry-After", "5")
		s.adminRefuse(w, r, http.StatusServiceUnavailable, "sns_confirm", "confirming the subscription failed; retry")
		return
	}
	s.log.Info("sns: subscription confirmed", "topic", m.TopicARN)
	writeJSON(w, http.StatusOK, map[string]any{"confirmed": m.TopicARN})
}

// snsAllowed authenticates a POST /events/sns as eventAllowed does
// /events/s3, except that SNS cannot send a bearer token: the token
// (events.token or admin.token) may come as the password of HTTP Basic
// authentication (subscribe https://edgegate:TOKEN@host/events/sns), and
// on a loopback-only admin without a token the message's signature stands
// in for the Content-Type rule (SNS sends text/plain; a web page cannot
// forge a signature). It answers the refusal itself and returns false.
func (s *Server) snsAllowed(w http.ResponseWriter, r *http.Request) bool {
	ok, presented := bearer(r, s.cfg.Events.Token, s.cfg.Admin.Token)
	if _, pass, isBasic := r.BasicAuth(); isBasic {
		for _, tok := range []string{s.cfg.Events.Token, s.cfg.Admin.Token} {
			if tok != "" && subtle.ConstantTimeCompare([]byte(pass), []byte(tok)) == 1 {
				ok = true
			}
		}
	}
	switch {
	case ok:
		return true
	case presented || s.cfg.Events.Token != "" || (!s.adminLoopback && s.cfg.Admin.Token != ""):
		w.Header().Set("WWW-Authenticate", `Basic realm="edgegate-events"`)
		s.adminRefuse(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong token (Bearer, or the Basic password)")
		return false
	case !s.adminLoopback:
		s.adminRefuse(w, r, http.StatusForbidden, "no_token",
			"the admin listener is not loopback-only and neither events.token nor admin.token is set: events are off")
		return false
	}
	return true
}
