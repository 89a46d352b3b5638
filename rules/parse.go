package rules

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edgegate/edgegate/internal/glob"
	"github.com/edgegate/edgegate/internal/problem"
	"github.com/edgegate/edgegate/internal/textdist"
)

// MaxPresignTTL is the longest lifetime S3 SigV4 allows for a presigned URL.
const MaxPresignTTL = 7 * 24 * time.Hour

var (
	regionFields = []string{"country", "subdivision", "city", "continent", "prefix", "fallback", "max_ttl", "formats", "image"}
	routeFields  = []string{"name", "match", "bucket", "delivery", "ttl", "cdn", "fallback", "content_disposition", "content_type", "cache", "cdn_policy", "regions", "image"}
	topFields    = []string{"default_region", "regions", "routes"}
	continents   = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	formatNames  = []string{"jpeg", "png", "webp", "avif"}
	slugRE       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// LoadFile reads and parses the rules file at path. See [Parse].
func LoadFile(path string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Parse(path, data)
}

// Parse parses, validates and compiles a rules file. filename is used in
// problem positions and returned by [Table.Source]. If the file is invalid
// the error is an *[Error] listing every problem found.
func Parse(filename string, data []byte) (*Table, error) {
	p := &parser{file: filename, regionsByName: map[string]*regionDef{}}
	t := p.parse(data)
	if len(p.problems) > 0 {
		return nil, &Error{Problems: problem.Sort(p.problems)}
	}
	sum := sha256.Sum256(data)
	t.hash = hex.EncodeToString(sum[:])[:12]
	t.source = filename
	return t, nil
}

type parser struct {
	file     string
	problems []Problem

	regions       []*regionDef
	regionsByName map[string]*regionDef
	routes        []*routeDef
}

type regionDef struct {
	r            *Region
	nameNode     *yaml.Node
	fallback     string
	fallbackNode *yaml.Node
	cityNode     *yaml.Node // first of city/subdivision, for "needs a country"
}

type routeDef struct {
	r         *Route
	node      *yaml.Node
	overrides []override
}

type override struct {
	region string
	node   *yaml.Node
}

func (p *parser) addf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = max(n.Line, 1), max(n.Column, 1)
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) parse(data []byte) *Table {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.addf(nil, "empty rules file: need default_region, regions and routes")
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.addf(&extra, "a rules file holds one YAML document; remove this \"---\" and what follows")
	}
	top := deref(doc.Content[0])
	if top.Kind != yaml.MappingNode {
		p.addf(top, "top level must be a mapping with default_region, regions and routes")
		return nil
	}
	var defNode, regionsNode, routesNode *yaml.Node
	for _, kv := range p.pairs(top, "key") {
		switch kv.key {
		case "default_region":
			defNode = kv.v
		case "regions":
			regionsNode = kv.v
		case "routes":
			routesNode = kv.v
		default:
			p.unknownField(kv.k, kv.key, "at top level", topFields)
		}
	}
	if regionsNode == nil {
		p.addf(top, "missing regions")
	} else {
		p.parseRegions(regionsNode)
	}
	if routesNode == nil {
		p.addf(top, "missing routes")
	} else {
		p.parseRoutes(routesNode)
	}
	p.checkFallbacks()
	p.checkAmbiguity()

	var def *regionDef
	if defNode == nil {
		p.addf(top, "missing default_region")
	} else if name, ok := p.scalar(defNode, "default_region"); ok {
		if def = p.regionsByName[strings.ToLower(name)]; def == nil {
			p.addf(defNode, "default_region %q is not a region%s", name, p.suggestRegion(name))
		}
	}
	if len(p.problems) > 0 {
		return nil
	}
	return p.compile(def.r)
}

// yamlError turns a YAML syntax error into a problem. yaml.v3 reports lines
// but not columns for syntax errors.
func (p *parser) yamlError(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if m := yamlLineRE.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			p.problems = append(p.problems, Problem{File: p.file, Line: n, Col: 1, Msg: "invalid YAML: " + m[2]})
			continue
		}
		if line == "" || line == "yaml: unmarshal errors:" {
			continue
		}
		p.addf(nil, "invalid YAML: %s", strings.TrimPrefix(line, "yaml: "))
	}
	if len(p.problems) == 0 {
		p.addf(nil, "invalid YAML: %v", err)
	}
}

type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns a mapping's key/value pairs, reporting non-string and
// duplicate keys (what names the key kind in messages: "region", "key").
func (p *parser) pairs(n *yaml.Node, what string) []pair {
	seen := map[string]*yaml.Node{}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.addf(k, "%s must be a string", what)
			continue
		}
		fold := strings.ToLower(k.Value)
		if first, dup := seen[fold]; dup {
			p.addf(k, "duplicate %s %q (first defined at line %d)", what, k.Value, first.Line)
			continue
		}
		seen[fold] = k
		out = append(out, pair{key: k.Value, k: k, v: v})
	}
	return out
}

func (p *parser) unknownField(k *yaml.Node, key, where string, known []string) {
	if s := suggest(key, known); s != "" {
		p.addf(k, "unknown field %q %s (did you mean %q?)", key, where, s)
		return
	}
	p.addf(k, "unknown field %q %s (known: %s)", key, where, strings.Join(known, ", "))
}

func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.addf(n, "%s must be a string, not a %s", what, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// stringList accepts a string or a list of strings.
func (p *parser) stringList(n *yaml.Node, what string) ([]string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" {
			p.addf(n, "%s is empty", what)
			return nil, false
		}
		return []string{n.Value}, true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.addf(n, "%s is an empty list", what)
			return nil, false
		}
		out := make([]string, 0, len(n.Content))
		ok := true
		for _, c := range n.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" || c.Value == "" {
				p.addf(c, "%s: each entry must be a non-empty string", what)
				ok = false
				continue
			}
			out = append(out, c.Value)
		}
		return out, ok
	}
	p.addf(n, "%s must be a string or a list of strings, not a %s", what, kindName(n))
	return nil, false
}

func (p *parser) parseRegions(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.addf(n, "regions must be a mapping of region name to criteria, not a %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		p.addf(n, "regions is empty")
	}
	for _, kv := range p.pairs(n, "region") {
		p.parseRegion(kv.k, kv.v)
	}
}

func (p *parser) parseRegion(k, v *yaml.Node) {
	name := k.Value
	if !validSlug(name) {
		p.addf(k, "region name %q must be a lower-case slug like \"egypt-cairo\" ([a-z0-9]+(-[a-z0-9]+)*, at most %d characters)", name, maxRegionName)
	}
	r := &Region{Name: name, Line: k.Line}
	d := &regionDef{r: r, nameNode: k}
	p.regions = append(p.regions, d)
	p.regionsByName[strings.ToLower(name)] = d
	if v.Kind != yaml.MappingNode {
		p.addf(v, "region %q must be a mapping, not a %s", name, kindName(v))
		return
	}
	hasPrefix := false
	var imageNode, formatsKey *yaml.Node
	for _, f := range p.pairs(v, "field") {
		what := fmt.Sprintf("region %q: %s", name, f.key)
		switch f.key {
		case "country":
			list, _ := p.stringList(f.v, what)
			for i, c := range list {
				if len(c) != 2 || !isASCIILetter(c[0]) || !isASCIILetter(c[1]) {
					p.addf(f.v, "%s: %q is not a two-letter ISO 3166-1 country code", what, c)
					continue
				}
				list[i] = strings.ToUpper(c)
			}
			r.Country = p.dedupe(f.v, what, list)
		case "subdivision", "city":
			list, _ := p.stringList(f.v, what)
			for _, s := range list {
				if hasControl(s) || strings.TrimSpace(s) != s {
					p.addf(f.v, "%s: %q has control characters or surrounding spaces", what, s)
				}
			}
			list = p.dedupe(f.v, what, list)
			if f.key == "city" {
				r.City = list
			} else {
				r.Subdivision = list
			}
			if d.cityNode == nil {
				d.cityNode = f.k
			}
		case "continent":
			list, _ := p.stringList(f.v, what)
			for i, c := range list {
				u := strings.ToUpper(c)
				if !slices.Contains(continents, u) {
					p.addf(f.v, "%s: %q is not a continent code (one of %s)", what, c, strings.Join(continents, " "))
					continue
				}
				list[i] = u
			}
			r.Continent = p.dedupe(f.v, what, list)
		case "prefix":
			hasPrefix = true
			if s, ok := p.scalar(f.v, what); ok {
				if msg := checkPrefix(s); msg != "" {
					p.addf(f.v, "%s %q %s", what, s, msg)
				}
				r.Prefix = s
			}
		case "fallback":
			if s, ok := p.scalar(f.v, what); ok {
				d.fallback, d.fallbackNode = s, f.v
			}
		case "max_ttl":
			if s, ok := p.scalar(f.v, what); ok {
				dur, err := parseDuration(s)
				if err != nil {
					p.addf(f.v, "%s: %v", what, err)
				}
				r.MaxTTL = dur
			}
		case "formats":
			list, _ := p.stringList(f.v, what)
			for i, s := range list {
				l := strings.ToLower(s)
				if l == "jpg" {
					l = "jpeg"
				}
				if !slices.Contains(formatNames, l) {
					p.addf(f.v, "%s: unknown image format %q (one of %s)", what, s, strings.Join(formatNames, ", "))
				}
				list[i] = l
			}
			r.Formats = p.dedupe(f.v, what, list)
			formatsKey = f.k
		case "image":
			imageNode = f.v
		default:
			p.unknownField(f.k, f.key, fmt.Sprintf("in region %q", name), regionFields)
		}
	}
	r.Image = p.regionImagePolicy(name, imageNode, formatsKey, r.Formats)
	if !hasPrefix {
		p.addf(k, "region %q: missing prefix (use prefix: \"\" for the bucket root)", name)
	}
	switch {
	case len(r.City) > 0:
		r.spec = specCity
	case len(r.Subdivision) > 0:
		r.spec = specSubdivision
	case len(r.Country) > 0:
		r.spec = specCountry
	case len(r.Continent) > 0:
		r.spec = specContinent
	}
	if d.cityNode != nil && len(r.Country) == 0 {
		why := "city names repeat across countries (Alexandria, EG is not Alexandria, US)"
		if d.cityNode.Value == "subdivision" {
			why = "subdivision codes and names repeat across countries"
		}
		p.addf(d.cityNode, "region %q names a %s but no country: %s; add country", name, d.cityNode.Value, why)
	}
}

// dedupe reports repeated values (case-insensitively) and drops them.
func (p *parser) dedupe(n *yaml.Node, what string, list []string) []string {
	out := list[:0]
	for _, s := range list {
		if slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			p.addf(n, "%s: %q is listed twice", what, s)
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (p *parser) parseRoutes(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		p.addf(n, "routes must be a list, not a %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		p.addf(n, "routes is empty: no key would be served")
	}
	names := map[string]*routeDef{}
	var catchAll *routeDef
	for i, item := range n.Content {
		item = deref(item)
		d := p.parseRoute(i, item)
		if d == nil {
			continue
		}
		r := d.r
		if r.Name != "" {
			if first, dup := names[r.Name]; dup {
				p.addf(item, "duplicate route name %q (first defined at line %d)", r.Name, first.r.Line)
			} else {
				names[r.Name] = d
			}
		}
		if catchAll != nil {
			p.addf(item, "route %s can never match: route %q (line %d) matches every key first", routeLabel(r, i), catchAll.r.Name, catchAll.r.Line)
		} else if r.Match == "**" {
			catchAll = d
		}
		p.routes = append(p.routes, d)
	}
}

// twoWay reads a field that takes one of two words (case-insensitive),
// reporting anything else; it returns true for the second word.
func (p *parser) twoWay(n *yaml.Node, what, off, on string) bool {
	s, ok := p.scalar(n, what)
	if !ok {
		return false
	}
	switch strings.ToLower(s) {
	case off:
		return false
	case on:
		return true
	}
	p.addf(n, "%s: unknown value %q (%s or %s)", what, s, off, on)
	return false
}

func routeLabel(r *Route, i int) string {
	if r.Name != "" {
		return strconv.Quote(r.Name)
	}
	return fmt.Sprintf("#%d", i+1)
}

func (p *parser) parseRoute(i int, n *yaml.Node) *routeDef {
	if n.Kind != yaml.MappingNode {
		p.addf(n, "route #%d must be a mapping, not a %s", i+1, kindName(n))
		return nil
	}
	r := &Route{Line: n.Line}
	d := &routeDef{r: r, node: n}
	fields := p.pairs(n, "field")
	for _, f := range fields { // name first, for messages
		if f.key == "name" {
			if s, ok := p.scalar(f.v, fmt.Sprintf("route #%d: name", i+1)); ok {
				r.Name = s
				if !validSlug(s) {
					p.addf(f.v, "route name %q must be a lower-case slug like \"maps\" ([a-z0-9]+(-[a-z0-9]+)*, at most %d characters)", s, maxRegionName)
				}
			}
		}
	}
	label := "route " + routeLabel(r, i)
	var hasBucket, hasTTL, hasDelivery bool
	var cdnNode, ttlNode *yaml.Node
	for _, f := range fields {
		what := label + ": " + f.key
		switch f.key {
		case "name":
		case "match":
			s, ok := p.scalar(f.v, what)
			if !ok {
				continue
			}
			g, err := glob.Compile(s)
			if err != nil {
				reason := err.Error()
				if ge, ok := errors.AsType[*glob.Error](err); ok {
					reason = ge.Reason // the pattern is named here already
				}
				p.addf(f.v, "%s: bad glob %q: %s", what, s, reason)
				continue
			}
			r.Match, r.glob = s, g
		case "bucket":
			hasBucket = true
			if s, ok := p.scalar(f.v, what); ok {
				if msg := checkBucket(s); msg != "" {
					p.addf(f.v, "%s: %q is not a valid S3 bucket name: %s", what, s, msg)
				}
				r.Bucket = s
			}
		case "delivery":
			hasDelivery = true
			if s, ok := p.scalar(f.v, what); ok {
				switch strings.ToLower(s) {
				case "presign":
					r.Delivery = Presign
				case "cdn":
					r.Delivery = CDN
				default:
					hasDelivery = false
					p.addf(f.v, "%s: unknown delivery %q (presign or cdn)", what, s)
				}
			}
		case "ttl":
			if s, ok := p.scalar(f.v, what); ok {
				dur, err := parseDuration(s)
				if err != nil {
					p.addf(f.v, "%s: %v", what, err)
					continue
				}
				r.TTL, hasTTL, ttlNode = dur, true, f.v
			}
		case "cdn":
			if s, ok := p.scalar(f.v, what); ok {
				cdnNode = f.v
				u, err := url.Parse(s)
				switch {
				case err != nil:
					p.addf(f.v, "%s: %q is not a URL: %v", what, s, errors.Unwrap(err))
				case (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
					p.addf(f.v, "%s: %q must be an absolute http:// or https:// URL", what, s)
				case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
					p.addf(f.v, "%s: %q must not have a query, fragment or user info", what, s)
				}
				r.CDN = s
			}
		case "fallback":
			if s, ok := p.scalar(f.v, what); ok {
				if s != "exists" {
					p.addf(f.v, "%s: unknown fallback %q (the only mode is \"exists\")", what, s)
				}
				r.FallbackExists = true
			}
		case "content_disposition":
			if s, ok := p.scalar(f.v, what); ok {
				r.ContentDisposition = s
				if msg := checkDisposition(s); msg != "" {
					p.addf(f.v, "%s: %q %s", what, s, msg)
				} else if l := strings.ToLower(s); l == "inline" || l == "attachment" {
					r.ContentDisposition = l
				}
			}
		case "content_type":
			if s, ok := p.scalar(f.v, what); ok {
				r.ContentType = s
				if _, _, err := mime.ParseMediaType(s); err != nil || hasControl(s) || !strings.Contains(s, "/") {
					p.addf(f.v, "%s: %q is not a media type like image/png", what, s)
				}
			}
		case "cache":
			r.PublicCache = p.twoWay(f.v, what, "private", "public")
		case "cdn_policy":
			r.CDNWildcard = p.twoWay(f.v, what, "canned", "wildcard")
		case "regions":
			p.parseOverrides(d, f.v, label)
		case "image":
			if ip := p.parseImagePolicy(f.v, label+": image"); !ip.empty() {
				r.Image = ip
			}
		default:
			p.unknownField(f.k, f.key, "in "+label, routeFields)
		}
	}
	if r.Name == "" && !slices.ContainsFunc(fields, func(f pair) bool { return f.key == "name" }) {
		p.addf(n, "%s: missing name", label)
	}
	if r.glob == nil && !slices.ContainsFunc(fields, func(f pair) bool { return f.key == "match" }) {
		p.addf(n, "%s: missing match", label)
	}
	if !hasBucket {
		p.addf(n, "%s: missing bucket", label)
	}
	if !hasTTL && !slices.ContainsFunc(fields, func(f pair) bool { return f.key == "ttl" }) {
		p.addf(n, "%s: missing ttl", label)
	}
	if hasTTL && hasDelivery && r.Delivery == Presign && r.TTL > MaxPresignTTL {
		p.addf(ttlNode, "%s: ttl: %s is over 7 days, the longest a presigned URL can live", label, ttlNode.Value)
	}
	if hasDelivery && r.Delivery == CDN && cdnNode == nil {
		p.addf(n, "%s: delivery cdn needs a cdn base URL", label)
	}
	if hasDelivery && r.Delivery == Presign && cdnNode != nil {
		p.addf(cdnNode, "%s: cdn is set but delivery is presign (set delivery: cdn)", label)
	}
	if !slices.ContainsFunc(fields, func(f pair) bool { return f.key == "delivery" }) {
		p.addf(n, "%s: missing delivery (presign or cdn)", label)
	}
	return d
}

func (p *parser) parseOverrides(d *routeDef, n *yaml.Node, label string) {
	if n.Kind != yaml.MappingNode {
		p.addf(n, "%s: regions must be a mapping of region name to prefix, not a %s", label, kindName(n))
		return
	}
	d.r.Overrides = map[string]string{}
	for _, kv := range p.pairs(n, "region") {
		what := fmt.Sprintf("%s: regions: %s", label, kv.key)
		s, ok := p.scalar(kv.v, what)
		if !ok {
			continue
		}
		if msg := checkPrefix(s); msg != "" {
			p.addf(kv.v, "%s: prefix %q %s", what, s, msg)
		}
		d.r.Overrides[strings.ToLower(kv.key)] = s
		d.overrides = append(d.overrides, override{region: kv.key, node: kv.k})
	}
}

func (p *parser) suggestRegion(name string) string {
	names := make([]string, len(p.regions))
	for i, d := range p.regions {
		names[i] = d.r.Name
	}
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// checkFallbacks resolves fallback names, reports unknown ones and loops,
// and checks route overrides name known regions.
func (p *parser) checkFallbacks() {
	for _, d := range p.regions {
		if d.fallbackNode == nil {
			continue
		}
		fb := p.regionsByName[strings.ToLower(d.fallback)]
		if fb == nil {
			p.addf(d.fallbackNode, "region %q: unknown fallback region %q%s", d.r.Name, d.fallback, p.suggestRegion(d.fallback))
			continue
		}
		d.r.Fallback = fb.r
	}
	inLoop := map[*Region]bool{}
	for _, d := range p.regions {
		var path []*Region
		for r := d.r; r != nil; r = r.Fallback {
			if i := slices.Index(path, r); i >= 0 {
				loop := path[i:]
				if inLoop[loop[0]] {
					break
				}
				// Report once, at the loop member defined first.
				first := slices.MinFunc(loop, func(a, b *Region) int { return cmp.Compare(a.Line, b.Line) })
				names := []string{}
				start := slices.Index(loop, first)
				for j := range loop {
					names = append(names, loop[(start+j)%len(loop)].Name)
					inLoop[loop[j]] = true
				}
				names = append(names, first.Name)
				p.addf(p.regionsByName[strings.ToLower(first.Name)].fallbackNode, "fallback loop: %s", strings.Join(names, " -> "))
				break
			}
			path = append(path, r)
		}
	}
	for _, rd := range p.routes {
		for _, o := range rd.overrides {
			if p.regionsByName[strings.ToLower(o.region)] == nil {
				p.addf(o.node, "route %q: regions: unknown region %q%s", rd.r.Name, o.region, p.suggestRegion(o.region))
			}
		}
	}
}

// checkAmbiguity reports pairs of regions some location could match with
// the same specificity, so which one wins would be arbitrary.
func (p *parser) checkAmbiguity() {
	for i, a := range p.regions {
		for _, b := range p.regions[:i] {
			if a.r.spec == specNone || a.r.spec != b.r.spec || !overlap(a.r, b.r) {
				continue
			}
			p.addf(a.nameNode, "region %q is ambiguous with region %q (line %d): a location can match both at the same specificity (%s); make their %s lists disjoint or add criteria",
				a.r.Name, b.r.Name, b.r.Line, specName(a.r.spec), specName(a.r.spec))
		}
	}
}

func specName(s int) string {
	return [...]string{"none", "continent", "country", "subdivision", "city"}[s]
}

func overlap(a, b *Region) bool {
	return intersects(a.Country, b.Country) && intersects(a.Subdivision, b.Subdivision) &&
		intersects(a.City, b.City) && intersects(a.Continent, b.Continent)
}

// intersects reports whether some value satisfies both criteria lists; an
// empty list accepts anything.
func intersects(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// compile builds the immutable Table from validated definitions.
func (p *parser) compile(def *Region) *Table {
	t := &Table{
		def:       def,
		byName:    make(map[string]*Region, len(p.regions)),
		byCity:    map[string][]*Region{},
		byCountry: map[string]*countryIndex{},
	}
	for i, d := range p.regions {
		r := d.r
		r.tbl, r.idx = t, i
		t.regions = append(t.regions, r)
		t.byName[strings.ToLower(r.Name)] = r
		if len(r.Country) == 0 {
			if r.spec != specNone {
				t.noCountry = append(t.noCountry, r)
			}
			continue
		}
		for _, c := range r.Country {
			ci := t.byCountry[c]
			if ci == nil {
				ci = &countryIndex{}
				t.byCountry[c] = ci
			}
			if len(r.City) == 0 {
				ci.rest = append(ci.rest, r)
				continue
			}
			ci.allCity = append(ci.allCity, r)
			indexed := true
			for _, city := range r.City {
				if !isASCII(city) || len(city) > maxIndexedCity {
					indexed = false
					continue
				}
				key := c + strings.ToLower(city)
				if !slices.Contains(t.byCity[key], r) {
					t.byCity[key] = append(t.byCity[key], r)
				}
			}
			if !indexed {
				ci.cityScan = append(ci.cityScan, r)
			}
		}
	}
	bySpec := func(a, b *Region) int { return cmp.Or(cmp.Compare(b.spec, a.spec), cmp.Compare(a.idx, b.idx)) }
	for _, ci := range t.byCountry {
		slices.SortStableFunc(ci.rest, bySpec)
	}
	slices.SortStableFunc(t.noCountry, bySpec)
	for _, d := range p.routes {
		r := d.r
		r.tbl = t
		r.chains = make([][]string, len(t.regions))
		for i, reg := range t.regions {
			var chain []string
			for x := reg; x != nil; x = x.Fallback {
				pre, ok := r.Overrides[x.Name]
				if !ok {
					pre = x.Prefix
				}
				if !slices.Contains(chain, pre) {
					chain = append(chain, pre)
				}
			}
			r.chains[i] = slices.Clip(chain)
			r.prefixesVary = r.prefixesVary || !slices.Equal(r.chains[i], r.chains[0])
		}
		compileImagePolicies(r, t.regions)
		t.routes = append(t.routes, r)
	}
	t.indexRoutes()
	return t
}

// parseDuration accepts Go durations ("90s", "15m", "1h30m") and a leading
// whole number of days ("7d", "1d12h"). The result must be positive.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("bad duration %q: use a positive duration like 15m, 1h or 7d", s)
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil || n > 10000 {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	var d time.Duration
	if rest != "" || days == 0 {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, bad
		}
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, bad
		}
	}
	if d+days <= 0 {
		return 0, bad
	}
	return d + days, nil
}

// checkPrefix returns why s is not a valid key prefix, or "".
func checkPrefix(s string) string {
	switch {
	case s == "":
		return ""
	case hasControl(s):
		return "contains control characters"
	case strings.ContainsRune(s, '\\'):
		return `contains a backslash (use "/")`
	case strings.HasPrefix(s, "/"):
		return `must not start with "/"`
	case !strings.HasSuffix(s, "/"):
		return `must end with "/"`
	}
	for _, seg := range strings.Split(strings.TrimSuffix(s, "/"), "/") {
		switch seg {
		case "..":
			return `must not contain a ".." segment`
		case ".":
			return `must not contain a "." segment`
		case "":
			return `must not contain an empty segment ("//")`
		}
	}
	return ""
}

// checkBucket applies the S3 general purpose bucket naming rules.
func checkBucket(s string) string {
	switch {
	case len(s) < 3 || len(s) > 63:
		return "must be 3 to 63 characters"
	case strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}):
		return "only lower-case letters, digits, dots and hyphens"
	case !isAlnum(s[0]) || !isAlnum(s[len(s)-1]):
		return "must begin and end with a letter or digit"
	case strings.Contains(s, ".."), strings.Contains(s, ".-"), strings.Contains(s, "-."):
		return "no adjacent dots or dot next to hyphen"
	case strings.HasPrefix(s, "xn--"), strings.HasPrefix(s, "sthree-"), strings.HasPrefix(s, "amzn-s3-demo-"):
		return "reserved prefix"
	case strings.HasSuffix(s, "-s3alias"), strings.HasSuffix(s, "--ol-s3"), strings.HasSuffix(s, ".mrap"), strings.HasSuffix(s, "--x-s3"):
		return "reserved suffix"
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "must not be formatted as an IP address"
	}
	return ""
}

func checkDisposition(s string) string {
	if hasControl(s) {
		return "contains control characters"
	}
	typ, _, err := mime.ParseMediaType(s) // same grammar: token *(; param)
	if err != nil {
		return "is not a Content-Disposition value"
	}
	if typ != "inline" && typ != "attachment" {
		return `must be "inline", "attachment" or a header value starting with one of them`
	}
	return ""
}

func validSlug(s string) bool { return len(s) <= maxRegionName && slugRE.MatchString(s) }

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "string"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// suggest returns the candidate within edit distance 2 of s, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := textdist.Levenshtein(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
