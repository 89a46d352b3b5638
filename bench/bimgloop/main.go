// Command bimgloop is the images baseline: the same resize edgegate does
// for /img/w300/photos/sample.jpg (1920×1080 JPEG → 300 px wide JPEG),
// called straight through bimg in N goroutines for a fixed time, printing
// images/s. scripts/bench-images.sh runs it beside edgegate.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/h2non/bimg"

	"github.com/edgegate/edgegate/internal/demo"
)

func main() {
	workers := flag.Int("workers", 2, "goroutines")
	dur := flag.Duration("duration", 10*time.Second, "how long")
	width := flag.Int("width", 300, "output width")
	flag.Parse()
	src, err := demo.SampleJPEG(1920, 1080)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bimg.VipsCacheSetMax(0)
	opts := bimg.Options{Width: *width, Type: bimg.JPEG, Quality: 82, StripMetadata: true, NoAutoRotate: false, Interpretation: bimg.InterpretationSRGB}
	var n atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := bimg.NewImage(src).Process(opts); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%.1f\n", float64(n.Load())/dur.Seconds())
}
