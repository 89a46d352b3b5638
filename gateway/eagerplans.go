package gateway

import (
	"context"
	"strings"

	"github.com/edgegate/edgegate/rules"
)

// eagerPlans lists the image plans with which requests are served an
// upload (bucket, key), so that its eager renders are the variants those
// requests look for. A region reaches the object on a route when the
// object lies under one of the region's prefixes on that route, the rest
// of its key is routed to that route, and (with fallback: exists) no
// earlier prefix of the chain holds a copy; each route's image policy for
// each region that reaches the object gives a plan, read as for a request
// without client hints. Without any image policy on the bucket's routes
// (or when no region reaches the object) it is the one plan without a
// policy, and no HEAD is made.
func (s *Server) eagerPlans(ctx context.Context, t *rules.Table, bucket, key string) []imagePlan {
	plain := []imagePlan{s.planPolicy(nil, noHints{})}
	if !anyImagePolicy(t, bucket) {
		return plain
	}
	var plans []imagePlan
	seen := map[*rules.ImagePolicy]bool{}
	for _, rt := range t.Routes() {
		if rt.Bucket != bucket {
			continue
		}
		for _, reg := range t.Regions() {
			pol := rt.ImagePolicy(reg)
			if seen[pol] || !s.reaches(ctx, t, rt, reg, key) {
				continue
			}
			seen[pol] = true
			plans = append(plans, s.planPolicy(pol, noHints{}))
		}
	}
	if len(plans) == 0 {
		return plain
	}
	return plans
}

// anyImagePolicy reports whether a route on bucket has an image policy
// for some region.
func anyImagePolicy(t *rules.Table, bucket string) bool {
	for _, rt := range t.Routes() {
		if rt.Bucket != bucket {
			continue
		}
		for _, reg := range t.Regions() {
			if rt.ImagePolicy(reg) != nil {
				return true
			}
		}
	}
	return false
}

// reaches reports whether a request from region reg for the object's key
// without its prefix is answered with this object on route rt (see
// eagerPlans). A failed HEAD of an earlier prefix counts as no copy.
func (s *Server) reaches(ctx context.Context, t *rules.Table, rt *rules.Route, reg *rules.Region, key string) bool {
	prefixes := rt.Prefixes(reg)
	if !rt.FallbackExists && len(prefixes) > 1 {
		prefixes = prefixes[:1]
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(key, p) {
			continue
		}
		rest := key[len(p):]
		if rest == "" || t.Route(rest) != rt {
			continue
		}
		for _, q := range prefixes[:i] {
			if m, _, err := s.heads.get(ctx, rt.Bucket, q+rest); err == nil && m.Exists {
				return false // reg's clients get the copy under q
			}
		}
		return true
	}
	return false
}

// noHints is a request without client hints.
type noHints struct{}

func (noHints) Peek(string) []byte { return nil }
