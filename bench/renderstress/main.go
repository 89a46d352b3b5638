// Command renderstress renders the demo photo (1920×1080 JPEG → 300 px
// wide JPEG) in N goroutines for a while and prints images/s: through
// resize.Processor.Process (the gateway's call, bimg's pipeline inside),
// with -apply through our own libvips calls (resize/apply.go, taken by a
// transform with keep_profile, which changes nothing for this source),
// or with -bimg through bimg directly as bench/bimgloop does. A process
// whose heap gets corrupted dies instead ("double free or corruption",
// SIGSEGV): run it several times (BENCHMARKS.md, "The baseline crashed").
//
//	VIPS_CONCURRENCY=1 MALLOC_ARENA_MAX=2 go run ./bench/renderstress -workers 4 -duration 45s [-apply|-bimg]
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
	"github.com/edgegate/edgegate/resize"
)

func main() {
	workers := flag.Int("workers", 4, "goroutines")
	dur := flag.Duration("duration", 45*time.Second, "how long")
	viaBimg := flag.Bool("bimg", false, "bimg's pipeline directly")
	viaApply := flag.Bool("apply", false, "resize.Process through resize/apply.go")
	flag.Parse()
	src, err := demo.SampleJPEG(1920, 1080)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p, err := resize.New(resize.DefaultConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := resize.Transform{Width: 300, Fit: resize.FitInside, KeepProfile: *viaApply}
	render := func() error {
		_, _, err := p.Process(src, tr, resize.JPEG)
		return err
	}
	if *viaBimg {
		opts := bimg.Options{Width: 300, Type: bimg.JPEG, Quality: 82, StripMetadata: true, Interpretation: bimg.InterpretationSRGB}
		render = func() error {
			_, err := bimg.NewImage(src).Process(opts)
			return err
		}
	}
	var n atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := render(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("%d images, %.1f img/s\n", n.Load(), float64(n.Load())/dur.Seconds())
}
