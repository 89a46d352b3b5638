// Package geo answers "where is this client?" for the gateway.
//
// It owns three things:
//
//   - Client IP trust. [IPResolver] decides which address is the client: the
//     TCP peer, unless the peer is one of the configured trusted proxies, in
//     which case X-Forwarded-For is walked right to left (or a single-value
//     header such as CF-Connecting-IP is read). Headers from untrusted peers
//     are never believed.
//   - CDN geo headers. [IPResolver.HeaderLocation] reads CloudFront's
//     CloudFront-Viewer-Country family and Cloudflare's CF-IPCountry, again only
//     from trusted peers and only when enabled.
//   - MaxMind DB lookups and reloads. [DB] layers one or more .mmdb files
//     (MaxMind GeoIP2/GeoLite2 City and Country, DB-IP in the GeoIP2 schema,
//     and the flat ip-location-db schema), answers lookups lock-free and
//     without allocating on the hot path, and hot-swaps the files when they
//     change on disk, keeping the old set serving when a new file is bad.
//
// It does not own regions, routing or HTTP: mapping a [Location] to a region is
// the rules package's job, and wiring headers and peers from fasthttp is the
// gateway's. geo imports no HTTP library; [Headers] is the one-method view of
// request headers it needs, which *fasthttp.RequestHeader satisfies.
//
// All exported types are safe for concurrent use unless their documentation
// says otherwise. The package has no global mutable state.
package geo
