package geo

// continents maps every ISO 3166-1 alpha-2 country code (plus XK, Kosovo) to
// its continent code, following GeoNames, which MaxMind also uses. Keys are the
// canonical country strings handed out in Locations, so interning a country
// code is a lookup here. Read-only after package initialisation.
var continents = buildContinents(map[string]string{
	"AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
	"AN": "AQ BV GS HM TF",
	"AS": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TM TR TW UZ VN YE",
	"EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
	"NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI",
	"OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TL TO TV UM VU WF WS",
	"SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
})

type countryInfo struct {
	code      string // canonical upper-case code, shared by all Locations
	continent string
}

func buildContinents(byContinent map[string]string) map[string]countryInfo {
	m := make(map[string]countryInfo, 256)
	for cont, list := range byContinent {
		for i := 0; i+2 <= len(list); i += 3 {
			code := list[i : i+2]
			if _, dup := m[code]; dup {
				panic("geo: duplicate country in continent table: " + code)
			}
			m[code] = countryInfo{code: code, continent: cont}
		}
	}
	return m
}

// ContinentOf returns the continent code (AF, AN, AS, EU, NA, OC, SA) of an
// ISO 3166-1 alpha-2 country code, or "" if the code is unknown. The code is
// matched case-insensitively.
func ContinentOf(country string) string {
	info, ok := lookupCountry(country)
	if !ok {
		return ""
	}
	return info.continent
}

// lookupCountry upper-cases a two-letter code and finds it without
// allocating.
func lookupCountry[T string | []byte](b T) (countryInfo, bool) {
	if len(b) != 2 {
		return countryInfo{}, false
	}
	var up [2]byte
	for i := range 2 {
		c := b[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	info, ok := continents[string(up[:])]
	return info, ok
}
