// Package imgproxy reads imgproxy's URLs, so that a site can move from
// imgproxy to edgegate without rewriting them: the signature (imgproxy's
// documented scheme, HMAC-SHA256 with a key over a salt and the path, in
// unpadded base64url, optionally truncated; several key/salt pairs for
// rotation), the processing options (resize, size, resizing_type, width,
// height, dpr, enlarge, extend, gravity, crop, quality, format, blur,
// sharpen, background, padding, rotate, strip_metadata,
// strip_color_profile, watermark, preset, and their short names), and the
// source in its plain ("/plain/{url}@{ext}") and base64url
// ("/{encoded}.{ext}") forms.
//
// Parser.Parse turns the part of a request path after the gateway's
// "/imgproxy" prefix into a Request: a resize.Transform, an explicit
// output format, and the object key the source URL names. Sources are
// never fetched: a source URL must start with one of the configured
// prefixes (Config.SourcePrefixes: "https://img.example.com/",
// "s3://photos/"), and the rest of it is a key that the gateway routes
// through its rules like /img/{spec}/{key}. Options edgegate cannot honour
// are refused with a 400 naming them, never ignored; unknown options are a
// 400 too, as imgproxy answers them.
//
// Three of imgproxy's resizing types depend on the source's size (auto,
// fill-down without enlarge, force with a zero width or height): their
// transforms carry a Fit of this package (FitAuto, FitFillDown) or a zero
// dimension, and Resolve completes them once the source has been probed.
//
// The package knows nothing of HTTP, S3 or the rules: Error carries the
// status the gateway should answer with. A Parser is immutable and safe
// for concurrent use.
package imgproxy
