package resize

import (
	"testing"

	"github.com/edgegate/edgegate/internal/testimages"
)

// The Go header parsers of the new inputs never panic, and what they
// accept is sane (the same contract as FuzzProbe's).
func FuzzProbeInputs(f *testing.F) {
	in := inputs(f)
	f.Add(in.gif[:200])
	f.Add(in.still)
	f.Add(in.webp[:300])
	f.Add(in.tiff[:64])
	f.Add(testimages.FrameBombGIF(10, 10, 3))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x02\x00\x00\x01\x03\x00\x01\x00\x00\x00\x05\x00\x00\x00\x01\x01\x04\x00\x01\x00\x00\x00\x07\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Probe(data)
		if err != nil {
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.FrameCount() < 1 || info.Frames > len(data) {
			t.Fatalf("accepted %+v", info)
		}
	})
}

func TestProbeInputsDoNotAllocate(t *testing.T) {
	in := inputs(t)
	for name, data := range map[string][]byte{"gif": in.gif, "animated webp": in.webp, "tiff": in.tiff} {
		if n := testing.AllocsPerRun(100, func() { _, _ = Probe(data) }); n != 0 {
			t.Errorf("Probe(%s) allocates %.0f times", name, n)
		}
	}
}
