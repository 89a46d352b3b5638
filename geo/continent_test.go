package geo

import "testing"

func TestContinentOf(t *testing.T) {
	tests := map[string]string{
		"EG": "AF", "ZA": "AF", "eg": "AF",
		"AQ": "AN",
		"CN": "AS", "TR": "AS", "AE": "AS", "IL": "AS",
		"GB": "EU", "DE": "EU", "RU": "EU", "CY": "EU", "XK": "EU",
		"US": "NA", "MX": "NA", "PR": "NA", "GL": "NA",
		"AU": "OC", "NZ": "OC", "UM": "OC",
		"BR": "SA", "AR": "SA",
		"": "", "X": "", "XX": "", "T1": "", "EU": "", "ZZ": "", "USA": "",
	}
	for country, want := range tests {
		if got := ContinentOf(country); got != want {
			t.Errorf("ContinentOf(%q) = %q, want %q", country, got, want)
		}
	}
}

// Every ISO 3166-1 alpha-2 code assigned today must have a continent.
func TestContinentTableIsComplete(t *testing.T) {
	const iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
		"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
		"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
		"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
		"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
		"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
		"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
	n := 0
	for i := 0; i+2 <= len(iso3166); i += 3 {
		code := iso3166[i : i+2]
		n++
		if ContinentOf(code) == "" {
			t.Errorf("ContinentOf(%q) = \"\"", code)
		}
	}
	if n != 249 {
		t.Fatalf("test list has %d codes, want 249", n)
	}
	if len(continents) != n+1 { // + XK
		t.Fatalf("continent table has %d entries, want %d", len(continents), n+1)
	}
}

func TestContinentOfDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = ContinentOf("eg") }); n != 0 {
		t.Fatalf("ContinentOf allocates %v times", n)
	}
}
