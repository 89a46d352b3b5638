// Command renderstress renders the demo photo (1920×1080 JPEG → 300 px
// wide JPEG) in N goroutines for a while and prints images/s: through
// resize.Processor.Process (the gateway's call, bimg's pipeline inside),
// with -apply through our own libvips calls (resize/apply.go, taken by a
// transform with keep_profile, which changes nothing for this source),
// or with -bimg through bimg directly as bench/bimgloop does. A process
// whose heap gets corrupted dies instead ("double free or corruption",
// SIGSEGV): run it several times (BENCHMARKS.md, "The baseline crashed").
// libvips runs as the gateway sets it (resize.DefaultRuntime: one thread
// per image, no operation cache, liborc off unless -vector).
//
//	go run ./bench/renderstress -workers 4 -duration 45s [-apply|-bimg] [-vector]
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
	vector := flag.Bool("vector", false, "libvips' liborc code on (images.vips_vector; off by default)")
	flag.Parse()
	src, err := demo.SampleJPEG(1920, 1080)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rt := resize.DefaultRuntime()
	rt.VipsVector = *vector
	if _, err := resize.ApplyRuntime(rt, os.LookupEnv); err != nil {
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
