package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edgegate/edgegate/internal/problem"
	"github.com/edgegate/edgegate/internal/textdist"
)

// ConfigProblem is one thing wrong with the configuration: where (a file
// and a 1-based line and column; or an environment variable or a flag,
// with Line 0) and what. The rules file's problems have the same shape.
type ConfigProblem = problem.Problem

// ConfigError is what LoadConfig, ParseConfig and ConfigSource.Validate
// return when the configuration is wrong: every problem found, those with
// a position sorted by it. Use errors.As to get it.
type ConfigError struct {
	Problems []ConfigProblem
}

// Error prints one problem per line.
func (e *ConfigError) Error() string { return problem.Join(e.Problems) }

var (
	durationType     = reflect.TypeFor[time.Duration]()
	yamlUnmarshaler  = reflect.TypeFor[yaml.Unmarshaler]()
	yamlErrLineRE    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	yamlTypeErrorRE  = regexp.MustCompile(`^line (\d+): (.*)$`)
	messagePathToken = regexp.MustCompile(`[a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[a-z0-9_]+(?:\[\d+\])?)*`)
	indexRE          = regexp.MustCompile(`\[\d+\]`)
)

// configWalker checks a YAML tree against a Go type the way yaml.v3's
// strict decoder would (unknown fields, duplicate keys, values that do
// not decode into the field's type), but reports every problem with its
// line and column instead of stopping at the first, and records where
// each field path was set.
type configWalker struct {
	file     string
	problems []ConfigProblem
	// pos maps a field path (s3.endpoint, images.presets.thumb.width,
	// geo.databases[1]) to the value node that set it.
	pos map[string]*yaml.Node
}

func (w *configWalker) addf(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = max(n.Line, 1), max(n.Column, 1)
	}
	w.problems = append(w.problems, ConfigProblem{File: w.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// yamlError turns a yaml.v3 syntax error into a problem with its line.
func (w *configWalker) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlErrLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		w.problems = append(w.problems, ConfigProblem{File: w.file, Line: line, Col: 1, Msg: "invalid YAML: " + m[2]})
		return
	}
	w.problems = append(w.problems, ConfigProblem{File: w.file, Line: 1, Col: 1, Msg: "invalid YAML: " + msg})
}

// document parses data as one YAML document and checks it against t;
// it returns the top node (nil when data is empty or unusable).
func (w *configWalker) document(data []byte, t reflect.Type) *yaml.Node {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			w.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		w.addf(&extra, "a config file holds one YAML document; remove this \"---\" and what follows")
	} else if !errors.Is(err, io.EOF) {
		w.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil
	}
	w.walk(top, t, "")
	return top
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// yamlFields lists t's fields by YAML name, descending into inline structs.
type yamlField struct {
	name  string
	index []int
	typ   reflect.Type
}

func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for _, sub := range yamlFields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, yamlField{name: name, index: []int{i}, typ: f.Type})
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "document"
}

// isLeaf says whether t is decoded as one value (not walked into).
func isLeaf(t reflect.Type) bool {
	if t == durationType || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Pointer:
		return false
	}
	return true
}

// walk checks n against t at path.
func (w *configWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	n = deref(n)
	if n == nil {
		return
	}
	if path != "" {
		w.pos[path] = n
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // null leaves the field at its zero value, as yaml.v3 does
	}
	for t.Kind() == reflect.Pointer && !isLeaf(t) {
		t = t.Elem()
	}
	if isLeaf(t) || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8) {
		w.leaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.addf(n, "%s: want a mapping of fields, not %s", pathOrTop(path), nodeKind(n))
			return
		}
		fields := yamlFields(t)
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.name
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				w.addf(k, "%s: a key must be a string, not a %s", pathOrTop(path), nodeKind(k))
				continue
			}
			if k.Value == "<<" {
				w.addf(k, "%s: YAML merge keys (<<) are not supported in a config file", pathOrTop(path))
				continue
			}
			if first, dup := seen[k.Value]; dup {
				w.addf(k, "%s: duplicate field (first set at line %d)", join(path, k.Value), first.Line)
				continue
			}
			seen[k.Value] = k
			j := slices.Index(names, k.Value)
			if j < 0 {
				w.unknownField(k, path, names)
				continue
			}
			w.walk(v, fields[j].typ, join(path, k.Value))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.addf(n, "%s: want a mapping, not %s", path, nodeKind(n))
			return
		}
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := deref(n.Content[i]), n.Content[i+1]
			kv := reflect.New(t.Key())
			if k.Kind != yaml.ScalarNode || k.Decode(kv.Interface()) != nil {
				w.addf(k, "%s: key %s: want %s", path, nodeKind(k), typeDesc(t.Key()))
				continue
			}
			if first, dup := seen[k.Value]; dup {
				w.addf(k, "%s: duplicate key %q (first at line %d)", path, k.Value, first.Line)
				continue
			}
			seen[k.Value] = k
			w.walk(v, t.Elem(), join(path, k.Value))
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			w.addf(n, "%s: want %s, not %s", path, typeDesc(t), nodeKind(n))
			return
		}
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		w.leaf(n, t, path)
	}
}

func pathOrTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func (w *configWalker) unknownField(k *yaml.Node, path string, known []string) {
	full := join(path, k.Value)
	if s := suggest(k.Value, known); s != "" {
		w.addf(k, "%s: unknown field (did you mean %q?)", full, s)
		return
	}
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	w.addf(k, "%s: unknown field (known %s: %s)", full, where, strings.Join(known, ", "))
}

// leaf decodes n into a fresh value of t, as the real decode will.
func (w *configWalker) leaf(n *yaml.Node, t reflect.Type, path string) {
	v := reflect.New(t)
	if err := n.Decode(v.Interface()); err != nil {
		if n.Kind == yaml.ScalarNode {
			w.addf(n, "%s: want %s, not %q", path, typeDesc(t), n.Value)
		} else {
			w.addf(n, "%s: want %s, not a %s", path, typeDesc(t), nodeKind(n))
		}
	}
}

// typeDesc names t for a person reading an error or the reference.
func typeDesc(t reflect.Type) string {
	if t == durationType {
		return "a duration (like 500ms, 10s, 1m30s)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeDesc(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "a mapping"
	case reflect.Pointer:
		return typeDesc(t.Elem())
	}
	return "a mapping of fields"
}

// suggest returns the candidate within edit distance 2 of s (3 for long
// names), else the first that s is a "_"-separated prefix of
// (wait → wait_time), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	if len(s) > 12 {
		bestD = 4
	}
	for _, c := range candidates {
		if d := textdist.Levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" && len(s) >= 3 {
		for _, c := range candidates {
			if strings.HasPrefix(strings.ToLower(c), strings.ToLower(s)+"_") {
				return c
			}
		}
	}
	return best
}

// decodeProblems turns the errors of yaml.v3's own decode, which the walk
// should have found first, into problems, so that none is lost.
func (w *configWalker) decodeProblems(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			if m := yamlTypeErrorRE.FindStringSubmatch(e); m != nil {
				line, _ := strconv.Atoi(m[1])
				w.problems = append(w.problems, ConfigProblem{File: w.file, Line: line, Col: 1, Msg: m[2]})
				continue
			}
			w.problems = append(w.problems, ConfigProblem{File: w.file, Line: 1, Col: 1, Msg: e})
		}
		return
	}
	w.yamlError(err)
}

// packageSections maps the package prefix of a Validate error to the
// config section that package's Config is decoded from.
var packageSections = map[string]string{
	"store":     "s3",
	"geo":       "geo",
	"presign":   "presign",
	"resize":    "images",
	"telemetry": "tracing",
	"accesslog": "access_log",
	"certs":     "tls",
	"queue":     "events.sqs",
}

// leafErrors flattens errors.Join trees.
func leafErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// candidatePaths lists the config paths msg names, in order: each dotted
// lowercase word, as written and under the section of the message's
// package prefix, with and without list indexes.
func candidatePaths(msg string) []string {
	section := ""
	if pkg, rest, ok := strings.Cut(msg, ": "); ok && !strings.ContainsAny(pkg, " \"") {
		if sec, known := packageSections[pkg]; known || pkg == "config" {
			section, msg = sec, rest
		}
	}
	var out []string
	for _, tok := range messagePathToken.FindAllString(msg, -1) {
		for _, p := range []string{join(section, tok), tok} {
			out = append(out, p)
			if q := indexRE.ReplaceAllString(p, ""); q != p {
				out = append(out, q)
			}
		}
	}
	return out
}
