package imgproxy

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/edgegate/edgegate/resize"
)

// Limits bound what a URL may ask for; the gateway passes its images
// configuration's.
type Limits struct {
	// MaxWidth and MaxHeight bound the requested size (before DPR), as
	// /img/'s custom sizes are bounded.
	MaxWidth, MaxHeight int
	// Preset returns an edgegate preset by name (pr:NAME).
	Preset func(name string) (resize.Transform, bool)
}

// Parser reads imgproxy URLs under one validated Config. It is immutable
// and safe for concurrent use.
type Parser struct {
	sig      signer
	insecure bool
	prefixes []string // longest first
	baseURL  string
	lim      Limits
}

// New validates cfg and returns its Parser.
func New(cfg Config, lim Limits) (*Parser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if lim.MaxWidth < 1 || lim.MaxHeight < 1 || lim.Preset == nil {
		return nil, fmt.Errorf("imgproxy: limits need MaxWidth, MaxHeight and Preset")
	}
	p := &Parser{insecure: cfg.AllowInsecure, baseURL: cfg.BaseURL, lim: lim}
	p.sig.size = cfg.SignatureSize
	for i := range cfg.Keys {
		k, _ := decodeHex(cfg.Keys[i]) // Validate checked them
		s, _ := decodeHex(cfg.Salts[i])
		p.sig.keys = append(p.sig.keys, k)
		p.sig.salts = append(p.sig.salts, s)
	}
	p.prefixes = append([]string(nil), cfg.SourcePrefixes...)
	sort.SliceStable(p.prefixes, func(i, j int) bool { return len(p.prefixes[i]) > len(p.prefixes[j]) })
	return p, nil
}

// Request is a parsed imgproxy URL.
type Request struct {
	// Transform is what to render. When NeedsResolve(Transform), Resolve
	// completes it once the source is probed.
	Transform resize.Transform
	// Format is the output format the URL names (format option, "@ext" or
	// ".ext"), or 0: negotiated from Accept as /img/ does.
	Format resize.Format
	// Key is the object key the source URL names (decoded and checked
	// only for what imgproxy's URL syntax implies; the gateway checks it
	// like any key).
	Key string
	// Source is the source URL as decoded, for messages and logs.
	Source string
	// Filename and Attachment are the filename and return_attachment
	// options (ContentDisposition).
	Filename   string
	Attachment bool
	// FormatQuality is the format_quality option: a quality for each
	// lossy format the answer may take (0: not given), under the quality
	// option and over every default.
	FormatQuality resize.Quality
}

// Usage is the shape of a URL, for error messages.
const Usage = "want /imgproxy/{signature}/{options}/plain/{source url}[@{ext}] or /imgproxy/{signature}/{options}/{base64url source url}[.{ext}]"

// maxParts bounds the segments of a path (options and the source's).
const maxParts = 64

// Parse reads path, the request path after the gateway's "/imgproxy"
// prefix ("/{signature}/{options…}/plain/{source}" or
// "/{signature}/{options…}/{base64 source}"), exactly as sent (not
// percent-decoded): checks its signature, then its options, then maps its
// source to a key. now is compared with the expires option. Every failure
// is an *Error: 403 for the signature, 404 for an expired URL or a source
// no prefix maps, 400 otherwise.
func (p *Parser) Parse(path string, now time.Time) (Request, error) {
	if len(path) < 2 || path[0] != '/' {
		return Request{}, badRequest("%s", Usage)
	}
	i := strings.IndexByte(path[1:], '/') + 1
	if i <= 1 || i == len(path)-1 {
		return Request{}, badRequest("%s", Usage)
	}
	sig, signed := path[1:i], fixPlain(path[i:])
	if err := p.checkSignature(sig, signed); err != nil {
		return Request{}, err
	}
	parts := strings.Split(signed[1:], "/")
	if len(parts) > maxParts {
		return Request{}, badRequest("%d path segments, over the %d allowed", len(parts), maxParts)
	}
	if _, ok := resizingTypes[parts[0]]; ok {
		return Request{}, notSupported("imgproxy's basic URL format (/%s/{width}/{height}/...) is deprecated and", parts[0])
	}
	n := 0
	for n < len(parts) && strings.IndexByte(parts[n], ':') >= 0 {
		n++
	}
	if n < len(parts) {
		switch parts[n] {
		case "-":
			return Request{}, notSupported("chained pipelines (\"/-/\") are")
		case "enc":
			return Request{}, notSupported("encrypted source URLs (\"/enc/\") are")
		}
	}
	src, ext, err := decodeSource(parts[n:])
	if err != nil {
		return Request{}, err
	}
	st, err := p.applyOptions(parts[:n], now)
	if err != nil {
		return Request{}, err
	}
	if ext != "" {
		if st.format, err = parseFormat("extension", ext); err != nil {
			return Request{}, err
		}
	}
	tr, err := st.transform(p.lim)
	if err != nil {
		return Request{}, err
	}
	key, err := p.sourceKey(src)
	if err != nil {
		return Request{}, err
	}
	return Request{Transform: tr, Format: st.format, Key: key, Source: src, Filename: st.filename, Attachment: st.attachment,
		FormatQuality: st.fq}, nil
}

// checkSignature verifies sig over signed (the path after the signature,
// salted), or accepts any sig when running without keys is allowed.
func (p *Parser) checkSignature(sig, signed string) error {
	if len(p.sig.keys) == 0 {
		if p.insecure {
			return nil
		}
		return &Error{Status: statusForbidden, Msg: "imgproxy URLs need a signature and no key is configured (imgproxy.keys and imgproxy.salts; imgproxy.allow_insecure serves unsigned URLs)"}
	}
	if !p.sig.verify(sig, signed) {
		return &Error{Status: statusForbidden, Msg: "invalid signature"}
	}
	return nil
}

// fixPlain restores the "//" of a plain source URL's scheme that some
// proxies (CloudFront) collapse ("/plain/https:/host" →
// "/plain/https://host"), as imgproxy does before checking the signature.
func fixPlain(signed string) string {
	i := strings.Index(signed, "/plain/")
	if i < 0 {
		return signed
	}
	rest := signed[i+len("/plain/"):]
	j := strings.Index(rest, ":/")
	if j <= 0 || !isScheme(rest[:j]) || strings.HasPrefix(rest[j:], "://") || len(rest) == j+2 {
		return signed
	}
	return signed[:i+len("/plain/")] + rest[:j] + "://" + rest[j+2:]
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// sourceKey maps a source URL to an object key through the configured
// prefixes (after BaseURL), decoding the rest once as a URL path.
func (p *Parser) sourceKey(src string) (string, error) {
	if p.baseURL != "" && !strings.HasPrefix(src, p.baseURL) {
		src = p.baseURL + src
	}
	if strings.ContainsAny(src, "?#") {
		return "", notSupported("source URLs with a query or fragment (%q) are", clip(src))
	}
	for _, pre := range p.prefixes {
		if rest, ok := strings.CutPrefix(src, pre); ok {
			key, err := url.PathUnescape(rest)
			if err != nil || key == "" {
				return "", badRequest("source %q: no valid object key after %q", clip(src), clip(pre))
			}
			return key, nil
		}
	}
	return "", &Error{Status: statusNotFound, Msg: fmt.Sprintf("source %q is not served here: it starts with none of imgproxy.source_prefixes", clip(src))}
}
