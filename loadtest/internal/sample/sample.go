// Package sample holds the random samplers the load generator draws
// requests from: weighted choices, a Zipf distribution over ranks, and a pool
// of client addresses sampled from GeoIP (.mmdb) files in proportion to the
// address space of each location. Samplers are immutable once built and safe
// for concurrent use; the caller supplies the *rand.Rand, so runs are
// reproducible from a seed.
package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
)

// Chooser picks an index with probability proportional to its weight.
type Chooser struct {
	cum []float64 // cumulative weights; cum[len-1] is the total
}

// NewChooser builds a Chooser; every weight must be > 0.
func NewChooser(weights []float64) (*Chooser, error) {
	if len(weights) == 0 {
		return nil, errors.New("sample: no weights")
	}
	cum := make([]float64, len(weights))
	total := 0.0
	for i, w := range weights {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, errors.New("sample: weights must be finite and > 0")
		}
		total += w
		cum[i] = total
	}
	return &Chooser{cum: cum}, nil
}

// Pick returns an index in [0, len(weights)).
func (c *Chooser) Pick(r *rand.Rand) int {
	if len(c.cum) == 1 {
		return 0
	}
	u := r.Float64() * c.cum[len(c.cum)-1]
	i := sort.SearchFloat64s(c.cum, u)
	if i < len(c.cum) && c.cum[i] == u { // u on a boundary belongs to the next bucket
		i++
	}
	return min(i, len(c.cum)-1)
}

// Zipf samples ranks 0..n-1 with P(k) proportional to 1/(k+1)^s. Unlike
// math/rand's Zipf it accepts any s > 0 (web popularity is often s ≈ 0.8–1).
type Zipf struct {
	c *Chooser
	p []float64
}

// NewZipf builds a Zipf sampler over n ranks with exponent s > 0.
func NewZipf(n int, s float64) (*Zipf, error) {
	if n <= 0 {
		return nil, errors.New("sample: zipf needs n > 0")
	}
	if !(s > 0) {
		return nil, errors.New("sample: zipf exponent must be > 0")
	}
	w := make([]float64, n)
	total := 0.0
	for k := range w {
		w[k] = 1 / math.Pow(float64(k+1), s)
		total += w[k]
	}
	c, err := NewChooser(w)
	if err != nil {
		return nil, err
	}
	p := make([]float64, n)
	for k := range w {
		p[k] = w[k] / total
	}
	return &Zipf{c: c, p: p}, nil
}

// Pick returns a rank in [0, n).
func (z *Zipf) Pick(r *rand.Rand) int { return z.c.Pick(r) }

// Prob returns the probability of rank k.
func (z *Zipf) Prob(k int) float64 { return z.p[k] }
