package imgproxy

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// decodeSource reads the source part of a path, split at "/": "plain"
// followed by the URL as is (percent-escapes decoded, "@ext" after it), or
// the URL in base64url (may be split by "/", ".ext" after it), as
// imgproxy's documentation describes.
func decodeSource(parts []string) (src, ext string, err error) {
	if len(parts) == 0 || len(parts) == 1 && parts[0] == "" {
		return "", "", badRequest("no source URL; %s", Usage)
	}
	if parts[0] == "plain" && len(parts) > 1 {
		joined := strings.Join(parts[1:], "/")
		u, e, n := splitExt(joined, "@")
		if n > 2 {
			return "", "", badRequest("source %q names several formats", clip(joined))
		}
		if u == "" {
			return "", "", badRequest("empty source URL")
		}
		dec, err := url.PathUnescape(u)
		if err != nil {
			return "", "", badRequest("source %q has a malformed percent escape", clip(u))
		}
		return dec, e, nil
	}
	joined := strings.Join(parts, "")
	u, e, n := splitExt(joined, ".")
	if n > 2 {
		return "", "", badRequest("source %q names several formats", clip(joined))
	}
	if u == "" {
		return "", "", badRequest("empty source URL")
	}
	dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(u, "="))
	if err != nil {
		return "", "", badRequest("source %q is neither \"plain/{url}\" nor base64url: %v", clip(u), err)
	}
	return string(dec), e, nil
}

// splitExt splits s at sep into the URL and the extension, and says into
// how many parts sep cut it.
func splitExt(s, sep string) (u, ext string, n int) {
	n = strings.Count(s, sep) + 1
	u, ext, _ = strings.Cut(s, sep)
	return u, ext, n
}
