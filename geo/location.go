package geo

// Location is where an address or a CDN header places a client. Empty
// fields are unknown. It is a plain value: copying it is cheap and it never
// aliases request memory.
type Location struct {
	// Country is the ISO 3166-1 alpha-2 code, upper case ("EG").
	Country string `json:"country,omitempty"`
	// Subdivision is the ISO 3166-2 subdivision code without the country
	// part ("C" for Cairo Governorate) when the source has one, else the
	// subdivision's English name ("Cairo Governorate").
	Subdivision string `json:"subdivision,omitempty"`
	// City is the English city name ("Cairo").
	City string `json:"city,omitempty"`
	// Continent is the two-letter continent code (AF, AN, AS, EU, NA, OC, SA),
	// derived from Country when the source lacks it.
	Continent string `json:"continent,omitempty"`
}

// IsZero reports whether nothing at all is known.
func (l Location) IsZero() bool { return l == Location{} }
