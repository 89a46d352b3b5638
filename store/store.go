// Package store owns edgegate's connections to S3-compatible object storage:
// per-bucket settings (region, endpoint, path-style addressing), credentials,
// and the few object operations the gateway needs (HEAD for existence checks,
// bucket reachability for readiness).
//
// It knows nothing of HTTP requests, regions or rules. URL signing lives in
// package presign, which takes its bucket settings and credentials from here.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// BucketConfig overrides the defaults for one bucket. Empty fields inherit
// the Config's defaults.
type BucketConfig struct {
	Region    string `yaml:"region"`
	Endpoint  string `yaml:"endpoint"`
	PathStyle *bool  `yaml:"path_style"`
}

// Config says how to reach S3.
//
// Credentials: AccessKey/SecretKey (overridable by the environment variables
// EDGEGATE_S3_ACCESS_KEY, EDGEGATE_S3_SECRET_KEY, EDGEGATE_S3_SESSION_TOKEN);
// when both are empty the AWS SDK's default chain is used (environment,
// shared config, web identity, instance role, ...).
type Config struct {
	// Region is the default signing region. Default: the SDK chain's, else us-east-1.
	Region string `yaml:"region"`
	// Endpoint is a custom S3 endpoint (e.g. http://127.0.0.1:7070). Default: AWS.
	Endpoint string `yaml:"endpoint"`
	// PathStyle selects path-style addressing (bucket in the path). Default false.
	PathStyle    bool                    `yaml:"path_style"`
	AccessKey    string                  `yaml:"access_key"`
	SecretKey    string                  `yaml:"secret_key"`
	SessionToken string                  `yaml:"session_token"`
	Buckets      map[string]BucketConfig `yaml:"buckets"`
	// Timeout bounds each S3 call. Default 5s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrent bounds the S3 requests (HEAD, GET, PUT) in flight at
	// once, over all buckets, and the connections to each S3 host. A
	// request past it waits up to QueueWait for a slot, then fails with
	// ErrBusy. Ping (readiness) is not counted. Default 128.
	MaxConcurrent int `yaml:"max_concurrent"`
	// QueueWait is how long a request waits for a free slot before it is
	// refused with ErrBusy. Default 50ms.
	QueueWait time.Duration `yaml:"queue_wait"`
}

// Defaults of the Config fields whose zero value means "the default".
const (
	DefaultTimeout       = 5 * time.Second
	DefaultMaxConcurrent = 128
	DefaultQueueWait     = 50 * time.Millisecond
)

// ErrBusy is returned when MaxConcurrent S3 requests are in flight and
// none ended within QueueWait: the caller should shed load (503).
var ErrBusy = errors.New("store: too many S3 requests in flight")

// ApplyEnv overlays secrets from the environment.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if v := getenv("EDGEGATE_S3_ACCESS_KEY"); v != "" {
		c.AccessKey = v
	}
	if v := getenv("EDGEGATE_S3_SECRET_KEY"); v != "" {
		c.SecretKey = v
	}
	if v := getenv("EDGEGATE_S3_SESSION_TOKEN"); v != "" {
		c.SessionToken = v
	}
}

// Validate reports configuration mistakes.
func (c Config) Validate() error {
	var errs []error
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("store: access_key and secret_key must be set together"))
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		errs = append(errs, fmt.Errorf("store: endpoint %q must start with http:// or https://", c.Endpoint))
	}
	for name, b := range c.Buckets {
		if b.Endpoint != "" && !strings.HasPrefix(b.Endpoint, "http://") && !strings.HasPrefix(b.Endpoint, "https://") {
			errs = append(errs, fmt.Errorf("store: bucket %q: endpoint %q must start with http:// or https://", name, b.Endpoint))
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("store: timeout must not be negative"))
	}
	if c.MaxConcurrent < 0 || c.QueueWait < 0 {
		errs = append(errs, errors.New("store: max_concurrent and queue_wait must not be negative (0: the default)"))
	}
	return errors.Join(errs...)
}

// Bucket is the resolved settings of one bucket.
type Bucket struct {
	Name      string
	Region    string
	Endpoint  string // "" means AWS
	PathStyle bool
	client    *s3.Client
}

// Store hands out per-bucket S3 clients. It is safe for concurrent use.
type Store struct {
	cfg     Config
	aws     aws.Config
	buckets map[string]*Bucket // configured buckets; others use deflt
	deflt   Bucket
	timeout time.Duration

	slots     chan struct{} // one per S3 request in flight (MaxConcurrent)
	queueWait time.Duration
	shed      atomic.Uint64 // requests refused with ErrBusy

	observer Observer // WithObserver; nil: none
}

// New resolves credentials and builds clients. It does not contact S3.
func New(ctx context.Context, cfg Config, options ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*awsconfig.LoadOptions) error{}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: load AWS config: %w", err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	limit := cfg.MaxConcurrent
	if limit == 0 {
		limit = DefaultMaxConcurrent
	}
	ac.HTTPClient = &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// The slots bound requests; this bounds connections (fds) too,
		// with room for Ping, which takes no slot.
		MaxConnsPerHost:     limit + 4,
		MaxIdleConnsPerHost: limit,
		IdleConnTimeout:     90 * time.Second,
	}}
	s := &Store{cfg: cfg, aws: ac, buckets: map[string]*Bucket{}, timeout: cfg.Timeout,
		slots: make(chan struct{}, limit), queueWait: cfg.QueueWait}
	for _, o := range options {
		o(s)
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.queueWait == 0 {
		s.queueWait = DefaultQueueWait
	}
	s.deflt = Bucket{Region: ac.Region, Endpoint: cfg.Endpoint, PathStyle: cfg.PathStyle}
	s.deflt.client = s.newClient(s.deflt)
	for name, bc := range cfg.Buckets {
		b := s.deflt
		b.Name = name
		if bc.Region != "" {
			b.Region = bc.Region
		}
		if bc.Endpoint != "" {
			b.Endpoint = bc.Endpoint
		}
		if bc.PathStyle != nil {
			b.PathStyle = *bc.PathStyle
		}
		b.client = s.newClient(b)
		s.buckets[name] = &b
	}
	return s, nil
}

func (s *Store) newClient(b Bucket) *s3.Client {
	return s3.NewFromConfig(s.aws, func(o *s3.Options) {
		o.Region = b.Region
		o.UsePathStyle = b.PathStyle
		if b.Endpoint != "" {
			o.BaseEndpoint = aws.String(b.Endpoint)
		}
		o.RetryMaxAttempts = 2
		// S3-compatible servers that send no checksum would get a
		// debug line on stderr for every GET.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.APIOptions = append(o.APIOptions, requestIDMiddleware, traceMiddleware)
		if s.observer != nil {
			o.APIOptions = append(o.APIOptions, observeMiddleware(s.observer))
		}
	})
}

// Bucket returns the settings for name: the configured ones, or the
// defaults. The result is shared; callers must not modify it.
func (s *Store) Bucket(name string) *Bucket {
	if b, ok := s.buckets[name]; ok {
		return b
	}
	b := s.deflt
	b.Name = name
	return &b
}

// Client returns the S3 client for a bucket.
func (s *Store) Client(bucket string) *s3.Client {
	if b, ok := s.buckets[bucket]; ok {
		return b.client
	}
	return s.deflt.client
}

// AWS returns the resolved SDK configuration (credentials and region).
func (s *Store) AWS() aws.Config { return s.aws }

// acquire takes a request slot, waiting up to the queue wait: ErrBusy
// past it. Each successful acquire must be followed by release.
func (s *Store) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.queueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		s.shed.Add(1)
		return ErrBusy
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for a request slot: %w", ctx.Err())
	}
}

func (s *Store) release() { <-s.slots }

// Shed returns how many requests were refused with ErrBusy so far.
func (s *Store) Shed() uint64 { return s.shed.Load() }

// InFlight returns how many S3 requests hold a slot now.
func (s *Store) InFlight() int { return len(s.slots) }

// Exists reports whether bucket/key exists, with a HEAD request.
// A 404 is (false, nil); other failures are errors.
func (s *Store) Exists(ctx context.Context, bucket, key string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	_, err := s.Client(bucket).HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("store: HEAD %s/%s: %w", bucket, key, err)
}

// Ping checks that each named bucket is reachable with the credentials.
func (s *Store) Ping(ctx context.Context, buckets ...string) error {
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	for _, b := range buckets {
		if _, err := s.Client(b).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b}); err != nil {
			return fmt.Errorf("store: bucket %s: %w", b, err)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	return false
}

// Meta is what a HEAD request says about an object.
type Meta struct {
	Exists      bool
	ETag        string // as S3 sends it, quotes included
	Size        int64
	ContentType string
	// Metadata holds the x-amz-meta-* values (keys lower case, without
	// the prefix).
	Metadata map[string]string
}

// MaxKeyLen is S3's limit on an object key, in bytes: a longer key names
// no object, and S3 refuses a request for one (an error, not a 404), so
// Head, Get and Open answer "missing" without asking.
const MaxKeyLen = 1024

// Head returns the object's metadata; a missing object is Meta{} and no
// error.
func (s *Store) Head(ctx context.Context, bucket, key string) (Meta, error) {
	if len(key) > MaxKeyLen {
		return Meta{}, nil
	}
	if err := s.acquire(ctx); err != nil {
		return Meta{}, err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	out, err := s.Client(bucket).HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return Meta{}, nil
		}
		return Meta{}, fmt.Errorf("store: HEAD %s/%s: %w", bucket, key, err)
	}
	return Meta{Exists: true, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata}, nil
}

// ErrTooLarge is returned by Get for an object over its byte limit.
var ErrTooLarge = errors.New("store: object over the size limit")

// ErrNotFound is returned by Get for a missing object.
var ErrNotFound = errors.New("store: no such object")

// Get downloads an object of at most maxBytes (0: no limit), reading the
// body as it streams and stopping as soon as the limit is passed, so an
// oversized object costs at most maxBytes+1 bytes of transfer.
func (s *Store) Get(ctx context.Context, bucket, key string, maxBytes int64) ([]byte, Meta, error) {
	obj, err := s.Open(ctx, bucket, key)
	if err != nil {
		return nil, Meta{}, err
	}
	defer obj.Close()
	m := obj.Meta
	if maxBytes > 0 && m.Size > maxBytes {
		return nil, m, fmt.Errorf("%w: %s/%s is %d bytes, over %d", ErrTooLarge, bucket, key, m.Size, maxBytes)
	}
	var r io.Reader = obj
	if maxBytes > 0 {
		r = io.LimitReader(obj, maxBytes+1)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(m.Size, 0)+1))
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, m, err
	}
	if maxBytes > 0 && int64(buf.Len()) > maxBytes {
		return nil, m, fmt.Errorf("%w: %s/%s is over %d bytes", ErrTooLarge, bucket, key, maxBytes)
	}
	return buf.Bytes(), m, nil
}

// Object is an object being downloaded: what the GET's headers say about
// it and its body as it streams. It holds a request slot and the request
// timeout runs until Close, which must be called; closing before the end
// of the body stops the transfer.
type Object struct {
	Meta
	name    string // bucket/key, for errors
	body    io.ReadCloser
	cancel  context.CancelFunc
	release func()
	closed  atomic.Bool
}

// Open starts a GET of bucket/key and returns once its headers arrived,
// so that a caller can decide from the size and the first bytes whether
// to read the rest (one request where a ranged GET and a full one would
// be two). A missing object is ErrNotFound.
func (s *Store) Open(ctx context.Context, bucket, key string) (*Object, error) {
	if len(key) > MaxKeyLen {
		return nil, fmt.Errorf("%w: %s/%s… (%d bytes, over S3's %d)", ErrNotFound, bucket, key[:64], len(key), MaxKeyLen)
	}
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	out, err := s.Client(bucket).GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		cancel()
		s.release()
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, bucket, key)
		}
		return nil, fmt.Errorf("store: GET %s/%s: %w", bucket, key, err)
	}
	return &Object{
		Meta: Meta{Exists: true, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength),
			ContentType: aws.ToString(out.ContentType), Metadata: out.Metadata},
		name: bucket + "/" + key, body: out.Body, cancel: cancel, release: s.release,
	}, nil
}

// Read reads the body; errors other than io.EOF name the object.
func (o *Object) Read(p []byte) (int, error) {
	n, err := o.body.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("store: GET %s: read body: %w", o.name, err)
	}
	return n, err
}

// Close ends the download and gives back its request slot. Safe to call
// more than once.
func (o *Object) Close() error {
	if !o.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := o.body.Close()
	o.cancel()
	o.release()
	return err
}

// Put stores body under bucket/key with a content type and x-amz-meta-*
// metadata.
func (s *Store) Put(ctx context.Context, bucket, key string, body []byte, contentType string, meta map[string]string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	ctx, cancel := context.WithTimeout(sdkContext(ctx), s.timeout)
	defer cancel()
	_, err := s.Client(bucket).PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentType: aws.String(contentType), Metadata: meta,
	})
	if err != nil {
		return fmt.Errorf("store: PUT %s/%s: %w", bucket, key, err)
	}
	return nil
}
