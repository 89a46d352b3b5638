package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Golden files live next to each testdata/rules/*.yaml as *.golden: the
// expected problems for an invalid file, or a dump of the compiled table for
// a valid one. Regenerate them with
//
//	EDGEGATE_UPDATE_GOLDEN=1 go test ./rules/ -run TestGolden
//
// and review the diff.
var updateGolden = os.Getenv("EDGEGATE_UPDATE_GOLDEN") != ""

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.ToSlash(file)
			tbl, err := Parse(file, data)
			var got string
			switch {
			case err == nil:
				got = dumpTable(tbl)
			default:
				var perr *Error
				if !errors.As(err, &perr) {
					t.Fatalf("Parse error is %T, want *rules.Error: %v", err, err)
				}
				for _, p := range perr.Problems {
					if p.File != file || p.Line < 1 || p.Col < 1 || p.Msg == "" {
						t.Errorf("malformed problem %+v", p)
					}
				}
				got = "error:\n" + err.Error() + "\n"
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with EDGEGATE_UPDATE_GOLDEN=1 to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s mismatch (EDGEGATE_UPDATE_GOLDEN=1 regenerates)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// dumpTable renders a table deterministically for golden files.
func dumpTable(t *Table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hash %s\ndefault %s\nregions:\n", t.Hash(), t.DefaultRegion().Name)
	for _, r := range t.Regions() {
		fb := "-"
		if r.Fallback != nil {
			fb = r.Fallback.Name
		}
		fmt.Fprintf(&b, "  %s line=%d prefix=%q fallback=%s", r.Name, r.Line, r.Prefix, fb)
		for _, c := range []struct {
			k string
			v []string
		}{{"country", r.Country}, {"subdivision", r.Subdivision}, {"city", r.City}, {"continent", r.Continent}, {"formats", r.Formats}} {
			if len(c.v) > 0 {
				fmt.Fprintf(&b, " %s=%s", c.k, strings.Join(c.v, ","))
			}
		}
		if r.MaxTTL > 0 {
			fmt.Fprintf(&b, " max_ttl=%s", r.MaxTTL)
		}
		b.WriteByte('\n')
	}
	b.WriteString("routes:\n")
	for _, r := range t.Routes() {
		fmt.Fprintf(&b, "  %s line=%d match=%q bucket=%s delivery=%s ttl=%s", r.Name, r.Line, r.Match, r.Bucket, r.Delivery, r.TTL)
		if r.CDN != "" {
			fmt.Fprintf(&b, " cdn=%s", r.CDN)
		}
		if r.FallbackExists {
			b.WriteString(" fallback=exists")
		}
		if r.ContentDisposition != "" {
			fmt.Fprintf(&b, " content_disposition=%q", r.ContentDisposition)
		}
		if r.ContentType != "" {
			fmt.Fprintf(&b, " content_type=%q", r.ContentType)
		}
		b.WriteByte('\n')
		for _, reg := range t.Regions() {
			fmt.Fprintf(&b, "    %s: %q\n", reg.Name, r.Prefixes(reg))
		}
	}
	return b.String()
}
