// Command edgegate-demo seeds the demo bucket and writes the demo photos.
//
//	edgegate-demo seed   [--endpoint http://127.0.0.1:7070] [--bucket edge-demo]
//	edgegate-demo images [--out DIR]   write sample.jpg (1920×1080) and alpha.png (with alpha)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: edgegate-demo seed|images [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("edgegate-demo "+os.Args[1], flag.ExitOnError)
	endpoint := fs.String("endpoint", "http://127.0.0.1:7070", "S3 endpoint of the local server")
	bucket := fs.String("bucket", demo.Bucket, "bucket to seed")
	out := fs.String("out", ".", "directory for generated images")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "seed":
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := demo.Seed(ctx, demo.Client(*endpoint), *bucket); err != nil {
			fmt.Fprintln(os.Stderr, "edgegate-demo:", err)
			os.Exit(1)
		}
		fmt.Printf("seeded s3://%s at %s\n", *bucket, *endpoint)
	case "images":
		jpg, err := demo.SampleJPEG(1920, 1080)
		if err == nil {
			err = os.WriteFile(filepath.Join(*out, "sample.jpg"), jpg, 0o644)
		}
		if err == nil {
			var p []byte
			if p, err = demo.AlphaPNG(800, 600); err == nil {
				err = os.WriteFile(filepath.Join(*out, "alpha.png"), p, 0o644)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "edgegate-demo:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "edgegate-demo: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
