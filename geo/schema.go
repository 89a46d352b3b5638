package geo

import (
	"fmt"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// schema is the record layout of a .mmdb file.
type schema uint8

const (
	// schemaMaxMind is the GeoIP2 layout: nested country/continent/city maps
	// with localized names. MaxMind GeoIP2/GeoLite2 City and Country and
	// DB-IP's own .mmdb downloads use it.
	schemaMaxMind schema = iota + 1
	// schemaFlat is the ip-location-db layout: flat string fields
	// country_code, state1, state2, city, ... (database_type "city ipv4",
	// "country ipv6", ...).
	schemaFlat
)

func (s schema) String() string {
	switch s {
	case schemaMaxMind:
		return "geoip2"
	case schemaFlat:
		return "flat"
	}
	return "unknown"
}

// The record types below hold only the fields geo reads, so decoding skips
// everything else (names in 8 languages, geoname ids, coordinates...).
// They are reused through a sync.Pool; reset clears them before each use
// because the decoder leaves fields absent from a record untouched.

type flatRecord struct {
	CountryCode string `maxminddb:"country_code"`
	State1      string `maxminddb:"state1"`
	City        string `maxminddb:"city"`
}

func (r *flatRecord) reset() { *r = flatRecord{} }

// UnmarshalMaxMindDBCursor decodes a flat record without reflection: DB-IP
// records carry eight keys and geo wants three, so it reads those and skips
// the rest. Strings come from the reader's string cache.
func (r *flatRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[flatRecord](err)
	}
	var next mmdbdata.Cursor
	for {
		key, val, ok := m.Next(next)
		if !ok {
			break
		}
		switch string(key) {
		case "country_code":
			r.CountryCode, next, err = readString(val)
		case "state1":
			r.State1, next, err = readString(val)
		case "city":
			r.City, next, err = readString(val)
		default:
			next, err = val.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End()
}

// maxFieldLen bounds decoded strings: place names and codes are short, and a
// hostile database must not make geo materialise megabytes per lookup.
const maxFieldLen = 256

func readString(c mmdbdata.Cursor) (string, mmdbdata.Cursor, error) {
	s, next, err := c.ReadStringMaxSize(maxFieldLen)
	if err != nil {
		return "", mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[string](err)
	}
	return s, next, nil
}

func (r *flatRecord) location() Location {
	return Location{Country: r.CountryCode, Subdivision: r.State1, City: r.City}
}

type mmNames struct {
	EN string `maxminddb:"en"`
}

type mmSubdivision struct {
	ISOCode string  `maxminddb:"iso_code"`
	Names   mmNames `maxminddb:"names"`
}

type mmRecord struct {
	City struct {
		Names mmNames `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []mmSubdivision `maxminddb:"subdivisions"`
}

func (r *mmRecord) reset() {
	subs := r.Subdivisions[:cap(r.Subdivisions)]
	clear(subs)
	*r = mmRecord{Subdivisions: subs[:0]}
}

func (r *mmRecord) location() Location {
	loc := Location{
		Country:   r.Country.ISOCode,
		City:      r.City.Names.EN,
		Continent: r.Continent.Code,
	}
	if len(r.Subdivisions) > 0 {
		loc.Subdivision = r.Subdivisions[0].ISOCode
		if loc.Subdivision == "" {
			loc.Subdivision = r.Subdivisions[0].Names.EN
		}
	}
	return loc
}

// probeRecord is decoded from a few records at open time to recognise the
// layout; it allocates, which is fine there.
type probeRecord struct {
	CountryCode *string        `maxminddb:"country_code"`
	Country     map[string]any `maxminddb:"country"`
	Continent   map[string]any `maxminddb:"continent"`
	Registered  map[string]any `maxminddb:"registered_country"`
}

// maxProbe bounds how many records detectSchema looks at.
const maxProbe = 64

// detectSchema recognises the record layout from the metadata database type
// and the records themselves, never from the file name. MaxMind-reserved
// types ("GeoIP2-…", "GeoLite2-…") must be City, Country or Enterprise
// databases (an ASN or ISP file has no location). Any database is then
// probed: records with country_code are flat, records with a country or
// continent map are GeoIP2 (DB-IP's "DBIP-City-Lite" is). A file that mixes
// both or has neither is rejected.
func detectSchema(r *maxminddb.Reader) (schema, error) {
	t := r.Metadata.DatabaseType
	if strings.HasPrefix(t, "GeoIP") || strings.HasPrefix(t, "GeoLite") {
		if !strings.Contains(t, "City") && !strings.Contains(t, "Country") && !strings.Contains(t, "Enterprise") {
			return 0, fmt.Errorf("database type %q has no locations (want a City or Country database)", t)
		}
	}
	var flat, mm, seen int
	for res := range r.Networks() {
		var p probeRecord
		if err := res.Decode(&p); err != nil {
			return 0, fmt.Errorf("database type %q: probing records: %w", t, err)
		}
		switch {
		case p.CountryCode != nil:
			flat++
		case p.Country != nil || p.Continent != nil || p.Registered != nil:
			mm++
		}
		if seen++; seen == maxProbe {
			break
		}
	}
	switch {
	case flat > 0 && mm == 0:
		return schemaFlat, nil
	case mm > 0 && flat == 0:
		return schemaMaxMind, nil
	case flat > 0 && mm > 0:
		return 0, fmt.Errorf("database type %q: records mix the flat and GeoIP2 layouts", t)
	case seen == 0:
		return 0, fmt.Errorf("database type %q: no records", t)
	}
	return 0, fmt.Errorf("database type %q: records have no country_code, country or continent field", t)
}
