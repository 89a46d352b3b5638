package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/edgegate/edgegate/internal/demo"
)

// ListPage walks a prefix a bounded page at a time against the real S3
// server: every key once, in order, no page over maxKeys; with a
// delimiter, directories come back as Dir entries.
func TestListPage(t *testing.T) {
	s := condStore(t)
	ctx := context.Background()
	base := fmt.Sprintf("test/listpage/%s/", t.Name())
	var keys []string
	for i := range 7 {
		keys = append(keys, fmt.Sprintf("%sk%02d", base, i))
	}
	keys = append(keys, base+"sub/x")
	for _, k := range keys {
		if err := s.Put(ctx, demo.Bucket, k, []byte("x"), "text/plain", nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Delete(context.Background(), demo.Bucket, k) })
	}
	var got []string
	token, pages := "", 0
	for {
		p, err := s.ListPage(ctx, demo.Bucket, base, "", token, 3)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Objects) > 3 {
			t.Fatalf("page of %d entries, max 3", len(p.Objects))
		}
		for _, o := range p.Objects {
			got = append(got, o.Key)
		}
		if token = p.Next; token == "" {
			break
		}
	}
	if !slices.Equal(got, keys) || pages != 3 {
		t.Fatalf("pages = %d, keys = %q; want 3 pages of %q", pages, got, keys)
	}
	p, err := s.ListPage(ctx, demo.Bucket, base, "/", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Objects); n != 8 || !p.Objects[7].Dir || p.Objects[7].Key != base+"sub/" || p.Next != "" {
		t.Fatalf("delimited page = %+v", p)
	}
}
