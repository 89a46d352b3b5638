package gateway

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/edgegate/edgegate/internal/problem"
	"github.com/edgegate/edgegate/resize"
)

// EnvPrefix starts the name of every environment variable that sets a
// config field: the field's YAML path in upper case with "." → "_"
// (s3.endpoint → EDGEGATE_S3_ENDPOINT).
const EnvPrefix = "EDGEGATE_"

// envAllowed lists the EDGEGATE_ variables that are not config fields but
// are read on purpose (by the binary, the tests or the packaging scripts);
// any other EDGEGATE_ variable that names no field is an error, so a typo
// does not go unnoticed. Entries ending in "_" are prefixes.
var envAllowed = []string{
	resize.EnvSigningKeys, // the older name of EDGEGATE_IMAGES_SIGNING_KEYS
	"EDGEGATE_GEOIP_DIR",  // tests and scripts: where the GeoIP test databases are
	"EDGEGATE_UPDATE_GOLDEN",
	"EDGEGATE_TEST_",
	"EDGEGATE_SCREENSHOTS",                                  // console's browser test
	"EDGEGATE_BIN", "EDGEGATE_ARCH", "EDGEGATE_DEB_VERSION", // scripts/package.sh
}

// ConfigField is one settable field of Config, as the reference lists it.
type ConfigField struct {
	// Path is the field's YAML path: s3.endpoint.
	Path string
	// Env is the environment variable that sets it: EDGEGATE_S3_ENDPOINT.
	Env string
	// Type says what a value looks like in the file and in Env.
	Type string
	// Default is DefaultConfig's value, as it would be written in Env
	// ("" when empty).
	Default string
	// Owner is the struct type that declares the field and GoName its
	// name there (for its doc comment).
	Owner  reflect.Type
	GoName string

	index []int
	typ   reflect.Type
}

// ConfigFields lists every settable field of Config in declaration order,
// derived from the struct by reflection over the yaml tags so that the
// list cannot drift from the struct.
func ConfigFields() []ConfigField {
	def := reflect.ValueOf(DefaultConfig())
	var out []ConfigField
	var walk func(t reflect.Type, path string, index []int)
	walk = func(t reflect.Type, path string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			idx := append(slices.Clone(index), i)
			if strings.Contains(opts, "inline") {
				walk(f.Type, path, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			p := join(path, name)
			if f.Type.Kind() == reflect.Struct && !isLeaf(f.Type) {
				walk(f.Type, p, idx)
				continue
			}
			out = append(out, ConfigField{
				Path: p, Env: EnvPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_")),
				Type: envTypeDesc(f.Type), Default: formatDefault(def.FieldByIndex(idx)),
				Owner: t, GoName: f.Name, index: idx, typ: f.Type,
			})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// envKind says how an environment value is read into t.
type envKind int

const (
	envScalar envKind = iota // one value
	envList                  // comma-separated scalars
	envMap                   // comma-separated key=value pairs of scalars
	envYAML                  // a YAML (flow) value, checked like the file
)

func kindOf(t reflect.Type) envKind {
	switch {
	case isLeaf(t):
		return envScalar
	case t.Kind() == reflect.Slice && isLeaf(t.Elem()):
		return envList
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && isLeaf(t.Elem()):
		return envMap
	}
	return envYAML
}

func envTypeDesc(t reflect.Type) string {
	switch kindOf(t) {
	case envList:
		return "list of " + shortType(t.Elem()) + "s (comma-separated)"
	case envMap:
		return "map of " + shortType(t.Elem()) + "s (key=value,key=value)"
	case envYAML:
		return "YAML (a flow value in the environment: [...] or {...})"
	}
	return shortType(t)
}

func shortType(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	}
	return "string"
}

// formatDefault writes v as its environment variable would hold it.
func formatDefault(v reflect.Value) string {
	switch kindOf(v.Type()) {
	case envScalar:
		return formatScalar(v)
	case envList:
		s := make([]string, v.Len())
		for i := range s {
			s[i] = formatScalar(v.Index(i))
		}
		return strings.Join(s, ",")
	case envMap:
		keys := v.MapKeys()
		s := make([]string, 0, len(keys))
		for _, k := range keys {
			s = append(s, k.String()+"="+formatScalar(v.MapIndex(k)))
		}
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	if v.IsZero() || (v.Kind() == reflect.Map || v.Kind() == reflect.Slice) && v.Len() == 0 {
		return ""
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return fmt.Sprint(v.Interface())
	}
	flow(&n)
	b, _ := yaml.Marshal(&n)
	return strings.TrimSpace(string(b))
}

func flow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		flow(c)
	}
}

func formatScalar(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	return fmt.Sprint(v.Interface())
}

// parseScalar reads s into a new value of t.
func parseScalar(s string, t reflect.Type) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	if t.Kind() == reflect.Pointer {
		e, err := parseScalar(s, t.Elem())
		if err != nil {
			return v, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, nil
	}
	if t == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return v, errors.New("want a duration (like 500ms, 10s, 1m30s)")
		}
		v.SetInt(int64(d))
		return v, nil
	}
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(s), &n); err != nil || len(n.Content) == 0 {
			return v, fmt.Errorf("want %s", typeDesc(t))
		}
		if err := n.Content[0].Decode(v.Addr().Interface()); err != nil {
			return v, fmt.Errorf("want %s: %w", typeDesc(t), err)
		}
		return v, nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return v, errors.New("want true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("want an integer (%d bits)", t.Bits())
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("want a non-negative integer (%d bits)", t.Bits())
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return v, errors.New("want a number")
		}
		v.SetFloat(f)
	default:
		return v, fmt.Errorf("cannot be set from the environment (%s)", t)
	}
	return v, nil
}

// parseEnvValue reads an environment value into a new value of f's type;
// problems name the variable.
func parseEnvValue(f ConfigField, s string) (reflect.Value, []ConfigProblem) {
	bad := func(msg string) []ConfigProblem {
		return []ConfigProblem{{File: f.Env, Msg: fmt.Sprintf("%s: %q: %s", f.Path, s, msg)}}
	}
	t := f.typ
	switch kindOf(t) {
	case envScalar:
		v, err := parseScalar(s, t)
		if err != nil {
			return v, bad(err.Error())
		}
		return v, nil
	case envList:
		v := reflect.MakeSlice(t, 0, 4)
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			e, err := parseScalar(part, t.Elem())
			if err != nil {
				return v, bad(fmt.Sprintf("element %q: %v", part, err))
			}
			v = reflect.Append(v, e)
		}
		return v, nil
	case envMap:
		v := reflect.MakeMap(t)
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			k, val, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return v, bad(fmt.Sprintf("%q: want key=value", part))
			}
			e, err := parseScalar(strings.TrimSpace(val), t.Elem())
			if err != nil {
				return v, bad(fmt.Sprintf("%q: %v", part, err))
			}
			v.SetMapIndex(reflect.ValueOf(strings.TrimSpace(k)).Convert(t.Key()), e)
		}
		return v, nil
	}
	// A list or map of structs: YAML, checked like the file, positions
	// within the value.
	w := &configWalker{file: f.Env, pos: map[string]*yaml.Node{}}
	v := reflect.New(t)
	top := w.document([]byte(s), t)
	if top != nil && len(w.problems) == 0 {
		if err := top.Decode(v.Interface()); err != nil {
			w.decodeProblems(err)
		}
	}
	for i := range w.problems {
		w.problems[i].Msg = strings.TrimPrefix(strings.TrimPrefix(w.problems[i].Msg, "top level"), ": ")
		w.problems[i].Msg = f.Path + ": " + w.problems[i].Msg
	}
	return v.Elem(), w.problems
}

// applyEnv sets cfg's fields from the EDGEGATE_ variables in environ
// ("NAME=value" as os.Environ gives): an empty value counts as unset. It
// returns a problem for each value that does not parse and each
// EDGEGATE_ variable that names no field and is not read on purpose, and
// records which paths the environment set.
func applyEnv(cfg *Config, environ []string, src *ConfigSource) []ConfigProblem {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	if v, ok := env[resize.EnvSigningKeys]; ok {
		cfg.Images.ApplyEnv(func(string) (string, bool) { return v, true })
		src.env["images.signing_keys"] = resize.EnvSigningKeys
	}
	fields := ConfigFields()
	byEnv := make(map[string]ConfigField, len(fields))
	names := make([]string, len(fields))
	for i, f := range fields {
		byEnv[f.Env] = f
		names[i] = f.Env
	}
	var problems []ConfigProblem
	root := reflect.ValueOf(cfg).Elem()
	for _, name := range slices.Sorted(maps.Keys(env)) {
		f, ok := byEnv[name]
		if !ok {
			if envAllowedName(name) {
				continue
			}
			msg := "no config field has this name"
			if s := suggest(name, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			} else {
				msg += " (docs/config.md lists them all)"
			}
			problems = append(problems, ConfigProblem{File: name, Msg: msg})
			continue
		}
		if env[name] == "" {
			continue
		}
		v, ps := parseEnvValue(f, env[name])
		if len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		root.FieldByIndex(f.index).Set(v)
		src.env[f.Path] = name
	}
	return problems
}

func envAllowedName(name string) bool {
	for _, a := range envAllowed {
		if name == a || strings.HasSuffix(a, "_") && strings.HasPrefix(name, a) {
			return true
		}
	}
	return false
}

// ConfigSource remembers where each configuration value came from — a
// line of the config file, an environment variable or a command-line
// flag — so that Validate's problems point there.
type ConfigSource struct {
	file  string
	pos   map[string]*yaml.Node
	env   map[string]string
	flags map[string]string
}

func newConfigSource(file string) *ConfigSource {
	return &ConfigSource{file: file, pos: map[string]*yaml.Node{}, env: map[string]string{}, flags: map[string]string{}}
}

// File is the config file read, or "" when there was none.
func (s *ConfigSource) File() string { return s.file }

// SetByFlag records that the command-line flag set path.
func (s *ConfigSource) SetByFlag(path, flag string) { s.flags[path] = flag }

// Validate runs c.Validate and gives each problem the position of the
// value it names: file:line:col, the environment variable or the flag
// that set it. The error is a *ConfigError, or nil.
func (s *ConfigSource) Validate(c Config) error {
	errs := leafErrors(c.Validate())
	if len(errs) == 0 {
		return nil
	}
	ps := make([]ConfigProblem, 0, len(errs))
	for _, err := range errs {
		ps = append(ps, s.locate(strings.TrimPrefix(err.Error(), "config: ")))
	}
	return &ConfigError{Problems: problem.Sort(ps)}
}

func within(path, set string) bool {
	return path == set || strings.HasPrefix(path, set+".") || strings.HasPrefix(path, set+"[")
}

// locate finds the first path msg names that a flag, the environment or
// the file set, in that order of precedence.
func (s *ConfigSource) locate(msg string) ConfigProblem {
	for _, p := range candidatePaths(msg) {
		for set, flag := range s.flags {
			if within(p, set) {
				return ConfigProblem{File: "flag --" + flag, Msg: msg}
			}
		}
		for set, name := range s.env {
			if within(p, set) {
				return ConfigProblem{File: name, Msg: msg}
			}
		}
		if n := s.pos[p]; n != nil {
			return ConfigProblem{File: s.file, Line: max(n.Line, 1), Col: max(n.Column, 1), Msg: msg}
		}
	}
	where := s.file
	if where == "" {
		where = "config"
	}
	return ConfigProblem{File: where, Msg: msg}
}

// parseConfig checks data against Config and decodes it over the
// defaults. The Config is what could be decoded even when there are
// problems (so that `edgegate check` can still find the rules file).
func parseConfig(name string, data []byte) (Config, *ConfigSource, []ConfigProblem) {
	cfg := DefaultConfig()
	src := newConfigSource(name)
	w := &configWalker{file: name, pos: src.pos}
	top := w.document(data, reflect.TypeFor[Config]())
	if top != nil && top.Kind == yaml.MappingNode {
		if err := top.Decode(&cfg); err != nil && len(w.problems) == 0 {
			w.decodeProblems(err)
		}
	}
	return cfg, src, w.problems
}

// LoadConfigFrom reads the config file at path over the defaults, then
// the EDGEGATE_ variables of environ over it (defaults < file <
// environment; command-line flags, applied by the caller, win over all).
// Relative paths in the file are resolved against its directory; those
// from the environment are used as given (relative to the working
// directory). With optional set, a missing file is not an error: the
// configuration is the defaults and the environment. The Config is
// returned even with an error, as far as it could be read; the error is
// a *ConfigError listing every problem of the file and the environment,
// or a read error. Validate is not called: see ConfigSource.Validate.
func LoadConfigFrom(path string, optional bool, environ []string) (Config, *ConfigSource, error) {
	data, err := os.ReadFile(path)
	var (
		cfg      Config
		src      *ConfigSource
		problems []ConfigProblem
	)
	switch {
	case err == nil:
		cfg, src, problems = parseConfig(path, data)
		cfg.resolvePaths(path)
	case optional && errors.Is(err, os.ErrNotExist):
		cfg, src = DefaultConfig(), newConfigSource("")
	default:
		return DefaultConfig(), newConfigSource(path), fmt.Errorf("config: %w", err)
	}
	problems = append(problems, applyEnv(&cfg, environ, src)...)
	if len(problems) > 0 {
		return cfg, src, &ConfigError{Problems: problem.Sort(problems)}
	}
	return cfg, src, nil
}

// MergeConfigErrors joins the problems of *ConfigErrors (LoadConfigFrom's
// and ConfigSource.Validate's) into one *ConfigError sorted by position,
// or nil when there are none. An error of another kind (a file that could
// not be read) is returned as it is.
func MergeConfigErrors(errs ...error) error {
	var all ConfigError
	for _, err := range errs {
		var ce *ConfigError
		switch {
		case err == nil:
		case errors.As(err, &ce):
			all.Problems = append(all.Problems, ce.Problems...)
		default:
			return err
		}
	}
	if len(all.Problems) == 0 {
		return nil
	}
	all.Problems = problem.Sort(all.Problems)
	return &all
}
