package gateway

import (
	"context"
	"net/http"

	"github.com/edgegate/edgegate/rules"
)

// Region sources reported in answers and explain output.
const (
	SourceQuery   = "query"
	SourceHeader  = "header"
	SourceGeoIP   = "geoip"
	SourceDefault = "default"
)

// Decision is everything the gateway decided for one request: the region
// and why, the route, and the object to hand out.
type Decision struct {
	Table        *rules.Table
	Region       *rules.Region
	RegionSource string
	Route        *rules.Route
	Bucket       string
	// ObjectKey is the full key in the bucket: the chosen prefix + the key.
	ObjectKey string
	// Tried lists the prefixes considered, in order (the chosen one last).
	Tried []string
}

// regionQuery is what the request said about its region.
type regionQuery struct {
	name []byte // ?region= value, nil when absent
}

// decide resolves region, route and object key for key. It never returns
// a 500-class error for bad input.
func (s *Server) decide(ctx context.Context, t *rules.Table, key string, q regionQuery) (Decision, *Error) {
	d := Decision{Table: t}
	if q.name != nil {
		r := t.Region(string(q.name))
		if r == nil {
			return d, errorf(http.StatusBadRequest, "unknown region %q", truncate(string(q.name), 64))
		}
		d.Region, d.RegionSource = r, SourceQuery
	} else {
		d.Region, d.RegionSource = t.DefaultRegion(), SourceDefault
	}
	d.Route = t.Route(key)
	if d.Route == nil {
		return d, errorf(http.StatusNotFound, "no route matches key %q", truncate(key, 256))
	}
	d.Bucket = d.Route.Bucket
	prefixes := d.Route.Prefixes(d.Region)
	d.ObjectKey = prefixes[0] + key
	d.Tried = prefixes[:1]
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
