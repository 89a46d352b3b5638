// Package demo builds and seeds edgegate's demo data set: regional assets
// (map-tiles.zip, banner.json) and generated photos, in one S3 bucket. The
// demo (make run) and the integration tests use the same data, so what the
// README shows is what the tests check.
package demo

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Bucket is the demo bucket's name.
const Bucket = "edge-demo"

// Demo-only credentials of the local S3 server. Never use them elsewhere.
const (
	AccessKey = "edgegate-demo"
	SecretKey = "edgegate-demo-secret"
	Region    = "us-east-1"
)

// MapTilePrefixes are the prefixes that hold map-tiles.zip. egypt/ and uk/
// deliberately have none, so existence-checked fallback has work to do.
var MapTilePrefixes = []string{"egypt/cairo/", "egypt/alexandria/", "uk/london/", "global/"}

// BannerPrefixes are the prefixes that hold a localized banner.json.
var BannerPrefixes = []string{"egypt/cairo/", "egypt/alexandria/", "egypt/", "uk/london/", "uk/", "europe/", "global/"}

// MapsPrefixes are the prefixes that hold maps/world.zip (the "maps" route).
var MapsPrefixes = []string{"egypt/cairo/", "global/"}

// Object is one demo object.
type Object struct {
	Key         string
	ContentType string
	Body        []byte
}

// Objects returns the whole demo data set. It is deterministic: the same
// bytes every time.
func Objects() ([]Object, error) {
	var objs []Object
	for _, p := range MapTilePrefixes {
		z, err := MapTiles(p)
		if err != nil {
			return nil, err
		}
		objs = append(objs, Object{Key: p + "map-tiles.zip", ContentType: "application/zip", Body: z})
	}
	for _, p := range MapsPrefixes {
		z, err := MapTiles(p + "maps/")
		if err != nil {
			return nil, err
		}
		objs = append(objs, Object{Key: p + "maps/world.zip", ContentType: "application/zip", Body: z})
	}
	for _, p := range BannerPrefixes {
		b, _ := json.Marshal(map[string]string{"region_prefix": p, "text": bannerText(p)})
		objs = append(objs, Object{Key: p + "banner.json", ContentType: "application/json", Body: b})
	}
	jpg, err := SampleJPEG(1920, 1080)
	if err != nil {
		return nil, err
	}
	objs = append(objs, Object{Key: "global/photos/sample.jpg", ContentType: "image/jpeg", Body: jpg})
	pngb, err := AlphaPNG(800, 600)
	if err != nil {
		return nil, err
	}
	objs = append(objs, Object{Key: "global/photos/alpha.png", ContentType: "image/png", Body: pngb})
	return objs, nil
}

func bannerText(prefix string) string {
	switch prefix {
	case "egypt/cairo/":
		return "أهلا بالقاهرة — Welcome, Cairo"
	case "egypt/alexandria/":
		return "أهلا بالإسكندرية — Welcome, Alexandria"
	case "egypt/":
		return "أهلا بمصر — Welcome, Egypt"
	case "uk/london/":
		return "Welcome, London"
	case "uk/":
		return "Welcome, United Kingdom"
	case "europe/":
		return "Willkommen, Bienvenue, Welcome"
	}
	return "Welcome"
}

// MapTiles returns a small, real zip archive naming the prefix it is for,
// so a download shows which regional copy was served.
func MapTiles(prefix string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "README.txt", Method: zip.Deflate})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "edgegate demo map tiles for %s\n", prefix)
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "tiles/0/0/0.txt", Method: zip.Store})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "tile 0/0/0 %s\n", prefix)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SampleJPEG renders a w×h photo-like test card (gradients and rings, so
// resizers have detail to keep) as a JPEG.
func SampleJPEG(w, h int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cx, cy := float64(w)/2, float64(h)/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			r := math.Sqrt(dx*dx + dy*dy)
			ring := uint8(127 + 127*math.Sin(r/18))
			img.SetRGBA(x, y, color.RGBA{R: uint8(255 * x / w), G: ring, B: uint8(255 * y / h), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 88}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AlphaPNG renders a w×h PNG with a real alpha channel: an opaque disc
// fading to full transparency at the corners.
func AlphaPNG(w, h int) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	cx, cy := float64(w)/2, float64(h)/2
	maxr := math.Sqrt(cx*cx + cy*cy)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			a := 1 - math.Sqrt(dx*dx+dy*dy)/maxr
			img.SetNRGBA(x, y, color.NRGBA{R: 30, G: uint8(120 + 100*a), B: 200, A: uint8(255 * a)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Seed creates bucket if needed and uploads every demo object. It is
// idempotent: running it again leaves the same data.
func Seed(ctx context.Context, c *s3.Client, bucket string) error {
	if err := EnsureBucket(ctx, c, bucket); err != nil {
		return err
	}
	objs, err := Objects()
	if err != nil {
		return fmt.Errorf("demo: build objects: %w", err)
	}
	for _, o := range objs {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(o.Key),
			Body: bytes.NewReader(o.Body), ContentType: aws.String(o.ContentType),
		})
		if err != nil {
			return fmt.Errorf("demo: put %s: %w", o.Key, err)
		}
	}
	return nil
}

// EnsureBucket creates bucket unless it exists already.
func EnsureBucket(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("demo: create bucket %s: %w", bucket, err)
	}
	return nil
}

// Client returns an S3 client for the local demo server at endpoint
// (path-style, demo credentials).
func Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  aws.NewCredentialsCache(staticCreds{}),
	})
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, Source: "edgegate-demo"}, nil
}
