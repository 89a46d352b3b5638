package scenario

import (
	"math/rand/v2"
	"os"
	"testing"
)

// FuzzParse: any input either fails with an error or yields scenarios the
// generator can draw from without panicking.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../scenarios.yaml", "testdata/custom.yaml"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("scenarios:\n  - name: a\n    requests: [{kind: route, keys: {k: 1e308}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range file.Scenarios {
			s := &file.Scenarios[i]
			if s.NeedsGeoIP() {
				continue
			}
			g, err := NewGenerator(s, nil)
			if err != nil {
				continue // e.g. weights that overflow when summed
			}
			for range 10 {
				if tg := g.Next(rng); tg.Path == "" || tg.Path[0] != '/' {
					t.Fatalf("bad path %q", tg.Path)
				}
			}
		}
	})
}
