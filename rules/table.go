package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/edgegate/edgegate/geo"
	"github.com/edgegate/edgegate/internal/glob"
)

// maxRegionName is the longest region name; names are DNS-label-like slugs.
const maxRegionName = 63

// Table is a compiled, validated rules file. It is immutable and safe for
// concurrent use; its lookups do not allocate.
type Table struct {
	source  string
	hash    string
	regions []*Region
	routes  []*Route
	byName  map[string]*Region // lower-case name -> region
	def     *Region

	// Route index: alternatives whose first pattern segment is literal,
	// keyed by it, merged in route order with the alternatives whose first
	// segment has a wildcard (routeWild), which apply to every key.
	routeBySeg map[string][]routeAlt
	routeWild  []routeAlt

	// RegionFor index.
	// Validation guarantees at most one region per specificity level
	// matches a location, so within a level the scan order is irrelevant.
	byCity    map[string][]*Region     // upper country + ASCII-lower city -> city regions
	byCountry map[string]*countryIndex // upper-case country -> its regions
	noCountry []*Region                // regions with location criteria but no country, most specific first
}

// Hash returns the first 12 hex characters of the SHA-256 of the file bytes.
func (t *Table) Hash() string { return t.hash }

// Source returns the file name given to [Parse].
func (t *Table) Source() string { return t.source }

// DefaultRegion returns the region named by default_region. It is never nil.
func (t *Table) DefaultRegion() *Region { return t.def }

// Regions returns the regions in file order. The slice is shared: do not modify it.
func (t *Table) Regions() []*Region { return t.regions }

// Routes returns the routes in file order. The slice is shared: do not modify it.
func (t *Table) Routes() []*Route { return t.routes }

// Region returns the region with this name, compared case-insensitively, or
// nil. It does not allocate.
func (t *Table) Region(name string) *Region { return regionByName(t, name) }

// RegionBytes is Region for a name held in a byte slice (a query
// parameter), without converting it to a string. It does not allocate.
func (t *Table) RegionBytes(name []byte) *Region { return regionByName(t, name) }

func regionByName[T string | []byte](t *Table, name T) *Region {
	if len(name) == 0 {
		return nil
	}
	if r, ok := t.byName[string(name)]; ok {
		return r
	}
	if len(name) > maxRegionName {
		return nil
	}
	var buf [maxRegionName]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return t.byName[string(buf[:len(name)])] // no allocation: the compiler elides the conversion
}

// RegionFor returns the most specific region whose criteria all match loc,
// or nil if none does. Specificity is city > subdivision > country >
// continent; a region naming a city or subdivision always names a country
// too, so "Alexandria, US" never matches a region for Alexandria, EG.
// Comparisons ignore case. It does not allocate.
func (t *Table) RegionFor(loc geo.Location) *Region {
	if len(loc.Country) == 2 {
		var buf [2 + maxIndexedCity]byte
		for i := 0; i < 2; i++ {
			c := loc.Country[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			buf[i] = c
		}
		asciiCity := len(loc.City) <= maxIndexedCity && isASCII(loc.City)
		if loc.City != "" && asciiCity {
			n := 2 + copy(buf[2:], loc.City)
			asciiLower(buf[2:n])
			for _, r := range t.byCity[string(buf[:n])] {
				if r.matchesInCountry(loc) {
					return r
				}
			}
		}
		if ci := t.byCountry[string(buf[:2])]; ci != nil {
			cities := ci.cityScan
			if !asciiCity {
				cities = ci.allCity
			}
			for _, r := range cities {
				if r.matchesInCountry(loc) {
					return r
				}
			}
			for _, r := range ci.rest {
				if r.matchesInCountry(loc) {
					return r
				}
			}
		}
	}
	for _, r := range t.noCountry {
		if r.matches(loc) {
			return r
		}
	}
	return nil
}

// maxIndexedCity is the longest city name RegionFor looks up in its index;
// longer names are matched by scanning.
const maxIndexedCity = 64

// countryIndex holds one country's regions for RegionFor.
type countryIndex struct {
	allCity  []*Region // every region with city criteria
	cityScan []*Region // city regions with a non-ASCII name (not in byCity: Unicode folding)
	rest     []*Region // subdivision and country regions, most specific first
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func asciiLower(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// Route returns the first route whose pattern matches key, or nil. It does
// not allocate.
func (t *Table) Route(key string) *Route {
	cands, ok := t.routeBySeg[glob.FirstSegment(key)]
	if !ok {
		cands = t.routeWild
	}
	for i := range cands {
		if cands[i].alt.Match(key) {
			return cands[i].route
		}
	}
	return nil
}

type routeAlt struct {
	route *Route
	alt   *glob.Alt
}

// indexRoutes builds routeBySeg and routeWild from t.routes.
func (t *Table) indexRoutes() {
	var all []routeAlt
	literal := map[string]bool{}
	for _, r := range t.routes {
		alts := r.glob.Alternatives()
		for i := range alts {
			a := &alts[i]
			all = append(all, routeAlt{r, a})
			if seg, lit := a.FirstSegment(); lit {
				literal[seg] = true
			}
		}
	}
	t.routeBySeg = make(map[string][]routeAlt, len(literal))
	for _, ra := range all {
		first, lit := ra.alt.FirstSegment()
		if !lit {
			t.routeWild = append(t.routeWild, ra)
			for seg := range literal {
				t.routeBySeg[seg] = append(t.routeBySeg[seg], ra)
			}
			continue
		}
		t.routeBySeg[first] = append(t.routeBySeg[first], ra)
	}
}

// Region is a named place: clients whose location matches its criteria are
// served objects under its Prefix, falling back along the Fallback chain.
// All criteria present must match (AND); a list matches any of its values
// (OR). A region without criteria is reached only by name, as the default,
// or as a fallback.
type Region struct {
	Name   string
	Prefix string // "" or ends in "/"
	// Fallback is the next region to try; nil at the end of the chain.
	Fallback *Region

	Country     []string // ISO 3166-1 alpha-2, upper case
	Subdivision []string // ISO 3166-2 code without country part, or a name
	City        []string // English name
	Continent   []string // AF AN AS EU NA OC SA

	// MaxTTL caps URL lifetimes for clients in this region; 0 = no cap.
	MaxTTL time.Duration
	// Formats lists the preferred image formats (jpeg, png, webp, avif) as
	// written at the top level of the region; nil = any. It is the same as
	// image: {formats: …}, and Image holds it.
	Formats []string
	// Image is the region's image policy ("image:"); nil when it sets
	// nothing. Route.ImagePolicy merges it with the route's.
	Image *ImagePolicy

	Line int // line of the region's name in the rules file

	tbl  *Table
	idx  int // position in Table.regions
	spec int // specificity: 4 city, 3 subdivision, 2 country, 1 continent, 0 none
}

const (
	specNone = iota
	specContinent
	specCountry
	specSubdivision
	specCity
)

// matchesInCountry is matches for a region already known to match the
// country; the most selective criterion is checked first.
func (r *Region) matchesInCountry(loc geo.Location) bool {
	return matchAny(r.City, loc.City) &&
		matchAny(r.Subdivision, loc.Subdivision) &&
		matchAny(r.Continent, loc.Continent)
}

func (r *Region) matches(loc geo.Location) bool {
	return matchAny(r.Country, loc.Country) &&
		matchAny(r.Subdivision, loc.Subdivision) &&
		matchAny(r.City, loc.City) &&
		matchAny(r.Continent, loc.Continent)
}

// matchAny reports whether v equals one of list, ignoring case; an empty
// list matches anything, an empty v matches only an empty list.
func matchAny(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// Delivery is how a route hands an object to the client.
type Delivery uint8

const (
	// Presign redirects to a presigned object-storage URL.
	Presign Delivery = iota
	// CDN redirects to the route's CDN base URL.
	CDN
)

// String returns "presign" or "cdn".
func (d Delivery) String() string {
	switch d {
	case Presign:
		return "presign"
	case CDN:
		return "cdn"
	}
	return "delivery(" + strconv.Itoa(int(d)) + ")"
}

// Route maps object keys matching a pattern to a bucket and a delivery.
type Route struct {
	Name     string
	Match    string // glob, see the package documentation of the rules file
	Bucket   string
	Delivery Delivery
	// TTL is the URL lifetime (presign) or cache lifetime (cdn). At most 7
	// days for presign.
	TTL time.Duration
	// CDN is the base URL for delivery cdn; empty otherwise.
	CDN string
	// FallbackExists: try the region's prefixes in order and serve the
	// first one under which the object exists ("fallback: exists").
	FallbackExists bool
	// ContentDisposition is a full header value ("inline", "attachment" or
	// e.g. `attachment; filename="a.pdf"`); empty = leave unset.
	ContentDisposition string
	// ContentType overrides the stored content type; empty = leave unset.
	ContentType string
	// Overrides maps region name to the prefix this route uses instead of
	// the region's own ("regions:" in the file). Shared: do not modify.
	Overrides map[string]string
	// PublicCache ("cache: public") lets shared caches keep answers whose
	// region came from the URL (?region=) or a CDN geo header that is part
	// of the CDN's cache key (then Vary names it). Answers decided by the
	// client IP or the default stay private. Default false: always private.
	PublicCache bool
	// CDNWildcard ("cdn_policy: wildcard") signs CloudFront URLs with a
	// custom policy covering the key's whole directory. Default: canned.
	CDNWildcard bool
	// Image is the route's image policy ("image:"); nil when it sets
	// nothing. ImagePolicy merges it with a region's.
	Image *ImagePolicy

	Line int // line of the route's entry in the rules file

	glob   *glob.Glob
	tbl    *Table
	chains [][]string     // by Region.idx
	images []*ImagePolicy // merged image policies by Region.idx; nil: none at all
	// imagesVary: regions get different image policies on this route.
	imagesVary bool
	// prefixesVary: regions get different prefix chains on this route.
	prefixesVary bool
}

// VariesByRegion reports whether an answer on this route can depend on
// the client's region: the regions get different prefix chains (so a key
// names different objects) or different image policies. A shared cache
// may then keep an answer only under the region's name (in the URL or a
// header it varies on).
func (r *Route) VariesByRegion() bool { return r.prefixesVary || r.imagesVary }

// Prefixes returns the prefix chain for reg on this route: reg's prefix (or
// this route's override for reg), then each fallback region's, to the end of
// the chain. The slice is precomputed and shared; the caller must not modify
// it. It returns nil if reg is nil or unknown to the route's table. A region
// from another Table (e.g. one loaded before a reload) is looked up by name.
// It does not allocate.
func (r *Route) Prefixes(reg *Region) []string {
	if reg == nil {
		return nil
	}
	if reg.tbl != r.tbl {
		if reg = r.tbl.Region(reg.Name); reg == nil {
			return nil
		}
	}
	return r.chains[reg.idx]
}
