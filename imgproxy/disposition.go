package imgproxy

import (
	"encoding/base64"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// maxFilename bounds a filename option's decoded length, in bytes.
const maxFilename = 255

// parseFilename reads filename:%filename[:%encoded]: the name
// percent-escaped, or in URL-safe base64 when encoded is true.
func parseFilename(name string, args []string) (string, error) {
	if len(args) < 1 || len(args) > 2 {
		return "", badRequest("option %s: want %s:{name}[:{base64 encoded}]", name, name)
	}
	encoded := false
	if len(args) == 2 {
		b, err := parseBool(name, args[1:])
		if err != nil {
			return "", err
		}
		encoded = b
	}
	var v string
	if encoded {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(args[0], "="))
		if err != nil {
			return "", badRequest("option %s: %q is not URL-safe base64: %v", name, clip(args[0]), err)
		}
		v = string(b)
	} else {
		s, err := url.PathUnescape(args[0])
		if err != nil {
			return "", badRequest("option %s: %q has a malformed percent escape", name, clip(args[0]))
		}
		v = s
	}
	switch {
	case len(v) > maxFilename:
		return "", badRequest("option %s: the name is %d bytes, over %d", name, len(v), maxFilename)
	case !utf8.ValidString(v):
		return "", badRequest("option %s: the name is not UTF-8", name)
	}
	return v, nil
}

// ContentDisposition is the Content-Disposition imgproxy sends with a
// result: inline, or attachment when the URL asked for one, and a
// filename of the filename option's name, else the source URL's base name
// without its extension ("image" when it has none), followed by ext, the
// result format's extension (".webp"). The name goes out as printable
// ASCII in filename= (others replaced by "_", quotes and backslashes
// escaped), and whole in filename*= (RFC 6266) when it is not ASCII.
func ContentDisposition(r Request, ext string) string {
	stem := r.Filename
	if stem == "" {
		base := path.Base(r.Source)
		if i := strings.IndexAny(base, "?#"); i >= 0 {
			base = base[:i]
		}
		stem = strings.TrimSuffix(base, path.Ext(base))
		if stem == "." || stem == "/" {
			stem = ""
		}
	}
	if stem == "" {
		stem = "image"
	}
	name := stem + ext
	var b strings.Builder
	if r.Attachment {
		b.WriteString("attachment")
	} else {
		b.WriteString("inline")
	}
	b.WriteString(`; filename="`)
	ascii := true
	for _, c := range []byte(name) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			ascii = false
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	if !ascii {
		b.WriteString("; filename*=UTF-8''")
		b.WriteString(rfc5987(name))
	}
	return b.String()
}

// rfc5987 percent-encodes s for an ext-value (RFC 5987 attr-char kept).
func rfc5987(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
