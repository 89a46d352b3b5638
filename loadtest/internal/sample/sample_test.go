package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestZipfDistribution(t *testing.T) {
	tests := []struct {
		name string
		n    int
		s    float64
	}{
		{"classic s=1", 10, 1},
		{"flatter s=0.8", 50, 0.8},
		{"steep s=2", 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := NewZipf(tt.n, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			// Probabilities follow 1/k^s and sum to 1.
			sum := 0.0
			for k := range tt.n {
				sum += z.Prob(k)
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("probabilities sum to %v", sum)
			}
			if got, want := z.Prob(0)/z.Prob(1), math.Pow(2, tt.s); math.Abs(got-want) > 1e-9 {
				t.Fatalf("P(1)/P(2) = %v, want %v", got, want)
			}
			const draws = 200000
			rng := rand.New(rand.NewPCG(42, 1))
			counts := make([]int, tt.n)
			for range draws {
				counts[z.Pick(rng)]++
			}
			for _, k := range []int{0, 1, tt.n - 1} {
				p := z.Prob(k)
				sd := math.Sqrt(draws * p * (1 - p))
				if d := math.Abs(float64(counts[k]) - draws*p); d > 5*sd+1 {
					t.Errorf("rank %d: %d draws, expected %.0f ± %.0f", k+1, counts[k], draws*p, sd)
				}
			}
		})
	}
}

func TestZipfDeterministic(t *testing.T) {
	z, err := NewZipf(100, 1.1)
	if err != nil {
		t.Fatal(err)
	}
	draw := func(seed uint64) []int {
		rng := rand.New(rand.NewPCG(seed, seed))
		out := make([]int, 1000)
		for i := range out {
			out[i] = z.Pick(rng)
		}
		return out
	}
	if !slices.Equal(draw(3), draw(3)) {
		t.Fatal("same seed, different sequence")
	}
	if slices.Equal(draw(3), draw(4)) {
		t.Fatal("different seeds, same sequence")
	}
}

func TestBadParameters(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"zipf n=0", func() error { _, err := NewZipf(0, 1); return err }()},
		{"zipf s=0", func() error { _, err := NewZipf(3, 0); return err }()},
		{"chooser empty", func() error { _, err := NewChooser(nil); return err }()},
		{"chooser zero weight", func() error { _, err := NewChooser([]float64{1, 0}); return err }()},
		{"chooser NaN", func() error { _, err := NewChooser([]float64{math.NaN()}); return err }()},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestChooserWeights(t *testing.T) {
	c, err := NewChooser([]float64{6, 3, 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, 3)
	for range 100000 {
		counts[c.Pick(rng)]++
	}
	for i, want := range []float64{0.6, 0.3, 0.1} {
		if got := float64(counts[i]) / 100000; math.Abs(got-want) > 0.01 {
			t.Errorf("index %d: share %.3f, want %.1f", i, got, want)
		}
	}
}
