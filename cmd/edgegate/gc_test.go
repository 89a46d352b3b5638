package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// edgegate gc lists the orphaned variants of a private S3 server and
// removes them only with --apply.
func TestGCCommand(t *testing.T) {
	endpoint := testenv.NewS3(t, "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edgegate.yaml")
	rules, _ := filepath.Abs("../../examples/rules.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`rules: %s
s3: {endpoint: %q, region: us-east-1, path_style: true, access_key: edgegate-demo, secret_key: edgegate-demo-secret}
gc: {page_size: 1}
`, rules, endpoint)), 0o644)
	c := demo.Client(endpoint)
	for _, k := range []string{"thumbnails/global/gone.jpg.jpg", "medium/global/gone.jpg.webp"} {
		in := &s3.PutObjectInput{Bucket: aws.String(demo.Bucket), Key: aws.String(k), Body: strings.NewReader("x")}
		if _, err := c.PutObject(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"gc", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("dry run: exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"would remove\tedge-demo/thumbnails/global/gone.jpg.jpg\tsource_gone (source global/gone.jpg)",
		"would remove\tedge-demo/medium/global/gone.jpg.webp", "2 no longer match their source, 0 removed", "--apply"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"gc", "--config", cfg, "--apply"}, &out, &errb); code != 0 {
		t.Fatalf("apply: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "removed\tedge-demo/thumbnails/global/gone.jpg.jpg") || !strings.Contains(out.String(), "2 removed") {
		t.Errorf("apply output:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"gc", "--config", cfg}, &out, &errb); code != 0 || !strings.Contains(out.String(), "0 stored variants checked") {
		t.Fatalf("after apply: exit %d:\n%s", code, out.String())
	}
	if code := run([]string{"gc", "--config", cfg, "extra"}, &out, &errb); code != 2 {
		t.Fatalf("extra argument: exit %d, want 2", code)
	}
}

// edgegate check prints warnings on stderr and still exits 0.
func TestCheckWarns(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte(`default_region: a
regions:
  a: {prefix: a/, country: EG}
  b: {prefix: b/, country: GB}
routes:
  - {name: shared, match: "**", bucket: edge-demo, delivery: presign, ttl: 1h, cache: public}
`), 0o644)
	var out, errb bytes.Buffer
	code := run([]string{"check", "--config", "../../examples/edgegate.yaml", "--rules", rules}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), ": ok") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), `warning: `+rules+`:6: route "shared" has cache: public`) {
		t.Fatalf("stderr lacks the warning:\n%s", errb.String())
	}
}
