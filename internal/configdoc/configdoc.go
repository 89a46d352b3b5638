// Package configdoc writes docs/config.md, the reference of every
// configuration field: its YAML path, its EDGEGATE_ environment variable,
// type, default and doc comment. The fields, variables, types and
// defaults come from gateway.ConfigFields (reflection over the Config
// struct's yaml tags); the descriptions from the fields' Go doc comments,
// read with go/parser from the packages' sources. TestReferenceUpToDate
// fails when the committed file differs from what Generate writes.
//
// Regenerate with `go generate ./internal/configdoc` (or
// `go run ./internal/configdoc/gen`).
package configdoc

//go:generate go run ./gen -root ../..

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/edgegate/edgegate/gateway"
)

// Module is the module path the Go packages are found under.
const Module = "github.com/edgegate/edgegate"

// Path is where the reference lives, relative to the module root.
const Path = "docs/config.md"

// Generate returns docs/config.md for the module at root.
func Generate(root string) ([]byte, error) {
	docs := docComments{root: root, byType: map[reflect.Type]map[string]string{}}
	var b bytes.Buffer
	b.WriteString(intro)
	var order []string
	rows := map[string][]string{}
	for _, f := range gateway.ConfigFields() {
		sec, _, nested := strings.Cut(f.Path, ".")
		if !nested {
			sec = ""
		}
		if _, seen := rows[sec]; !seen {
			order = append(order, sec)
		}
		doc, err := docs.field(f.Owner, f.GoName)
		if err != nil {
			return nil, err
		}
		def := "—"
		if f.Default != "" {
			def = "`" + cell(f.Default) + "`"
		}
		rows[sec] = append(rows[sec], fmt.Sprintf("| `%s` | `%s` | %s | %s | %s |\n", f.Path, f.Env, cell(f.Type), def, cell(doc)))
	}
	// Top-level fields first, then each section in declaration order.
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(min(len(a), 1), min(len(b), 1)) })
	for _, sec := range order {
		if sec == "" {
			b.WriteString("\n## Top level\n\n")
		} else {
			fmt.Fprintf(&b, "\n## %s\n\n", sec)
		}
		b.WriteString("| Field | Environment variable | Type | Default | Description |\n|---|---|---|---|---|\n")
		for _, r := range rows[sec] {
			b.WriteString(r)
		}
	}
	return b.Bytes(), nil
}

// cell makes s one Markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// docComments reads the doc comments of struct fields from the sources.
type docComments struct {
	root   string
	byType map[reflect.Type]map[string]string
}

func (d *docComments) field(t reflect.Type, name string) (string, error) {
	m, ok := d.byType[t]
	if !ok {
		var err error
		if m, err = d.load(t); err != nil {
			return "", err
		}
		d.byType[t] = m
	}
	return m[name], nil
}

// load finds type t's declaration in its package's directory and returns
// its fields' doc comments (or line comments). A field without one that
// follows a field whose comment names it ("ReadTimeout and WriteTimeout
// bound ...") shares that comment.
func (d *docComments) load(t reflect.Type) (map[string]string, error) {
	rel, ok := strings.CutPrefix(t.PkgPath(), Module)
	if !ok {
		return nil, fmt.Errorf("configdoc: %s is outside %s", t, Module)
	}
	dir := filepath.Join(d.root, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("configdoc: %w", err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("configdoc: %w", err)
		}
		if m := structDocs(f, t.Name()); m != nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("configdoc: type %s not found in %s", t, dir)
}

func structDocs(f *ast.File, typeName string) map[string]string {
	var out map[string]string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return out == nil
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		out = map[string]string{}
		prev := ""
		for _, fld := range st.Fields.List {
			doc := strings.TrimSpace(fld.Doc.Text())
			if doc == "" {
				doc = strings.TrimSpace(fld.Comment.Text())
			}
			for _, id := range fld.Names {
				switch {
				case doc != "":
					out[id.Name] = doc
				case strings.Contains(prev, id.Name):
					out[id.Name] = prev
				}
			}
			if doc != "" {
				prev = doc
			}
		}
		return false
	})
	return out
}

//go:embed intro.md
var intro string
