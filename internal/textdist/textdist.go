// Package textdist measures how far apart two short strings are, for the
// "did you mean" hints of the config and rules parsers. It knows nothing
// of either.
package textdist

// Levenshtein is the edit distance between a and b (insertions,
// deletions and substitutions of bytes); 99 when either is over 64 bytes,
// which no name worth suggesting is.
func Levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
