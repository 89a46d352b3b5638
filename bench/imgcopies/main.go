// Command imgcopies puts N distinct copies of the demo's 1920×1080 JPEG
// (internal/demo.SampleJPEG, the bytes of global/photos/sample.jpg) into
// the demo bucket as PREFIX0.jpg … PREFIX{N-1}.jpg, for
// scripts/bench-vipsthumb.sh: edgegate renders a different key on every
// request (bench/distinct-sources.lua), so concurrent requests never share
// one render through the variant cache's single flight, and vipsthumbnail
// converts the same number of distinct files. With -dir it also writes the
// source as DIR/sample.jpg; with -delete it removes the copies instead.
//
//	imgcopies [-endpoint http://127.0.0.1:7070] [-bucket edge-demo] [-prefix global/bench/s] [-n 256] [-dir DIR] [-delete]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:7070", "S3 endpoint of the local server")
	bucket := flag.String("bucket", demo.Bucket, "bucket")
	prefix := flag.String("prefix", "global/bench/s", "key prefix; keys are PREFIX{i}.jpg")
	n := flag.Int("n", 256, "copies")
	dir := flag.String("dir", "", "also write the source as DIR/sample.jpg")
	del := flag.Bool("delete", false, "delete the copies instead of putting them")
	flag.Parse()
	if err := run(*endpoint, *bucket, *prefix, *n, *dir, *del); err != nil {
		fmt.Fprintln(os.Stderr, "imgcopies:", err)
		os.Exit(1)
	}
}

func run(endpoint, bucket, prefix string, n int, dir string, del bool) error {
	jpg, err := demo.SampleJPEG(1920, 1080)
	if err != nil {
		return err
	}
	if dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "sample.jpg"), jpg, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := demo.Client(endpoint)
	if !del {
		if err := demo.EnsureBucket(ctx, c, bucket); err != nil {
			return err
		}
	}
	errs := make([]error, n)
	slots := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			key := aws.String(fmt.Sprintf("%s%d.jpg", prefix, i))
			if del {
				_, errs[i] = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key})
				return
			}
			_, errs[i] = c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: key,
				Body: bytes.NewReader(jpg), ContentType: aws.String("image/jpeg"),
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
