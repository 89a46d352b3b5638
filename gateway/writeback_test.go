package gateway

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/internal/testimages"
)

// The write-back is a conditional write: a variant another gateway stored
// first (for the same source version) is left as it is and counted as a
// conflict; one stored for another version of the source is replaced.
// Without an Accept header a TIFF's output format (JPEG, or PNG with
// alpha) waits on the probe, so the gateway renders without reading the
// stored copy: its write-back meets the object the test put there,
// deterministically.
func TestWriteBackConditional(t *testing.T) {
	tiff := mustImage(testimages.TIFF(800, 600))
	rel := putObject(t, "wb.tiff", tiff, "image/tiff")
	c := demo.Client(testenv.S3(t))
	ctx := context.Background()
	src, err := c.HeadObject(ctx, headInput(demo.Bucket, "global/"+rel))
	if err != nil {
		t.Fatal(err)
	}
	sourceETag := aws.ToString(src.ETag)
	stored := "thumbnails/global/" + rel + ".jpg"
	t.Cleanup(func() {
		c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(stored)})
	})
	putVariantObject := func(body, forETag string) {
		t.Helper()
		in := putInput(demo.Bucket, stored, []byte(body))
		in.ContentType = aws.String("image/jpeg")
		in.Metadata = map[string]string{metaSourceETag: forETag}
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	readVariantObject := func() (string, string) {
		t.Helper()
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(stored)})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return string(b), out.Metadata[metaSourceETag]
	}
	// render asks a new gateway for the thumbnail and waits for its
	// write-back to end; it returns the gateway's stored and conflict counts.
	render := func() (storedN, conflicts float64) {
		t.Helper()
		g := startGateway(t, demoRules(t), withImages(func(c *ImagesConfig) { c.StoreVariants = true }))
		resp, _ := get(t, g.base+"/img/thumbnail/"+rel)
		if resp.StatusCode != 200 || resp.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("thumbnail: %d X-Cache %q, want 200 MISS", resp.StatusCode, resp.Header.Get("X-Cache"))
		}
		count := func() (float64, float64) {
			return testutil.ToFloat64(g.srv.metrics.variantsStored), testutil.ToFloat64(g.srv.metrics.storeConflicts)
		}
		waitFor(t, 10*time.Second, "the write-back to be stored or to conflict", func() bool {
			n, c := count()
			return n+c > 0
		})
		return count()
	}

	t.Run("stored by another gateway", func(t *testing.T) {
		putVariantObject("another gateway's copy", sourceETag)
		n, conflicts := render()
		if body, _ := readVariantObject(); body != "another gateway's copy" {
			t.Fatalf("the stored variant was overwritten (%d bytes now): the write-back was not conditional", len(body))
		}
		if n != 0 || conflicts != 1 {
			t.Fatalf("variants stored %v, conflicts %v; want 0 and 1", n, conflicts)
		}
	})
	t.Run("stale", func(t *testing.T) {
		putVariantObject("a variant of an older source", `"older"`)
		n, conflicts := render()
		body, forETag := readVariantObject()
		if body == "a variant of an older source" || forETag != sourceETag {
			t.Fatalf("the stale variant was not replaced: source-etag %s, want %s", forETag, sourceETag)
		}
		if info := probe(t, []byte(body)); info.Width != 150 || info.Height != 150 {
			t.Fatalf("stored variant is %dx%d, want the 150x150 thumbnail", info.Width, info.Height)
		}
		if n != 1 || conflicts != 0 {
			t.Fatalf("variants stored %v, conflicts %v; want 1 and 0", n, conflicts)
		}
	})
}
