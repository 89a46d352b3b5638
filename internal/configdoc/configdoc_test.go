package configdoc

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/gateway"
)

// TestReferenceUpToDate fails when docs/config.md is not what Generate
// writes from today's structs (EDGEGATE_UPDATE_GOLDEN=1 or
// `go generate ./internal/configdoc` rewrites it).
func TestReferenceUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	got, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, Path)
	if os.Getenv("EDGEGATE_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s is stale; run `go generate ./internal/configdoc`. First difference, line %d:\nwant %s\ngot  %s", Path, i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("%s is stale (%d lines, want %d); run `go generate ./internal/configdoc`", Path, len(wl), len(gl))
	}
}

// TestReferenceListsEveryField: each field's path and variable, and a
// description for each.
func TestReferenceListsEveryField(t *testing.T) {
	b, err := Generate(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var undocumented []string
	for _, f := range gateway.ConfigFields() {
		line := "| `" + f.Path + "` | `" + f.Env + "` |"
		i := strings.Index(doc, line)
		if i < 0 {
			t.Errorf("no row for %s", f.Path)
			continue
		}
		row := doc[i : i+strings.IndexByte(doc[i:], '\n')]
		if strings.HasSuffix(row, "|  |") {
			undocumented = append(undocumented, f.Path)
		}
	}
	// Fields whose struct has no comment for them yet; the list may only
	// shrink.
	if len(undocumented) > 5 {
		t.Errorf("%d fields without a doc comment: %v", len(undocumented), undocumented)
	}
	t.Logf("fields without a doc comment: %v", undocumented)
}
