// Command inputsgen builds the sources of scripts/bench-images2.sh (issue
// 17's input goals) with internal/testimages: an animated GIF (-frames
// frames of -gif-size, default 100 × 480x270) and a HEIC photo
// (-heic-size, default 4000x3000, by heif-enc). It writes them as
// DIR/anim.gif and DIR/photo.heic for the vips CLI, and puts N copies of
// each into the demo bucket as PREFIXanim{i}.gif and PREFIXphoto{i}.heic,
// so that edgegate renders a different key on every request
// (bench/distinct-sources.lua) and concurrent requests never share one
// render through the variant cache's single flight.
//
//	inputsgen -dir DIR [-endpoint http://127.0.0.1:7070] [-bucket edge-demo] [-prefix global/bench2/] [-n 16]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testimages"
)

func main() {
	dir := flag.String("dir", "", "directory to write anim.gif and photo.heic to (required)")
	endpoint := flag.String("endpoint", "http://127.0.0.1:7070", "S3 endpoint of the local server")
	bucket := flag.String("bucket", demo.Bucket, "bucket")
	prefix := flag.String("prefix", "global/bench2/", "key prefix")
	n := flag.Int("n", 16, "copies of each in the bucket")
	frames := flag.Int("frames", 100, "frames of the animated GIF")
	var gw, gh, hw, hh int
	flag.Func("gif-size", "animated GIF frame size WxH (default 480x270)", func(s string) error { return size(s, &gw, &gh) })
	flag.Func("heic-size", "HEIC size WxH (default 4000x3000)", func(s string) error { return size(s, &hw, &hh) })
	flag.Parse()
	if gw == 0 {
		gw, gh = 480, 270
	}
	if hw == 0 {
		hw, hh = 4000, 3000
	}
	if err := run(*dir, *endpoint, *bucket, *prefix, *n, *frames, gw, gh, hw, hh); err != nil {
		fmt.Fprintln(os.Stderr, "inputsgen:", err)
		os.Exit(1)
	}
}

func size(s string, w, h *int) error {
	if _, err := fmt.Sscanf(s, "%dx%d", w, h); err != nil || *w < 1 || *h < 1 {
		return fmt.Errorf("want WxH, got %q", s)
	}
	return nil
}

func run(dir, endpoint, bucket, prefix string, n, frames, gw, gh, hw, hh int) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	anim, err := testimages.AnimatedGIF(gw, gh, frames)
	if err != nil {
		return err
	}
	heic, err := testimages.HEIC(hw, hh)
	if err != nil {
		return err
	}
	files := []struct {
		name, ct string
		data     []byte
	}{{"anim.gif", "image/gif", anim}, {"photo.heic", "image/heic", heic}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := demo.Client(endpoint)
	if err := demo.EnsureBucket(ctx, c, bucket); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
		base, ext := f.name[:len(f.name)-len(filepath.Ext(f.name))], filepath.Ext(f.name)
		for i := range n {
			key := fmt.Sprintf("%s%s%d%s", prefix, base, i, ext)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key),
				Body: bytes.NewReader(f.data), ContentType: aws.String(f.ct),
			}); err != nil {
				return fmt.Errorf("put %s: %w", key, err)
			}
		}
	}
	return nil
}
