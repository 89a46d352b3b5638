package k8stest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// KubeVersion is the Kubernetes version charts are rendered and linted
// for (the library's default, v1.20, is older than the chart's
// kubeVersion).
var KubeVersion = &chartutil.KubeVersion{Version: "v1.33.0", Major: "1", Minor: "33"}

// Object is one decoded Kubernetes document: its typed value (a pointer to
// a k8s.io/api or prometheus-operator type) and where it came from.
type Object struct {
	Kind   string
	Name   string
	Source string // file, or chart template path
	Value  any
}

// kinds maps apiVersion/kind to a constructor of its Go type. Only the
// kinds edgegate ships are known: any other document is an error.
var kinds = map[string]func() any{
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
}

// DecodeStrict decodes one YAML document into its Go type as the API
// server's strict field validation does, refusing unknown, duplicate and
// wrongly-cased fields, unknown kinds, and documents without a name.
func DecodeStrict(source string, doc []byte) (Object, error) {
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, fmt.Errorf("k8stest: %s: %w", source, err)
	}
	key := tm.APIVersion + "/" + tm.Kind
	newObj := kinds[key]
	if newObj == nil {
		return Object{}, fmt.Errorf("k8stest: %s: unknown kind %q (apiVersion %q)", source, tm.Kind, tm.APIVersion)
	}
	// As the API server decodes: YAML to JSON (refusing duplicate keys),
	// then case-sensitive JSON that reports unknown and duplicate fields
	// (encoding/json, under sigs.k8s.io/yaml's UnmarshalStrict, would take
	// "ipblock" for "ipBlock").
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("k8stest: %s: %s %q: %w", source, tm.Kind, tm.Metadata.Name, err)
	}
	v := newObj()
	strict, err := kjson.UnmarshalStrict(j, v)
	if err = errors.Join(append(strict, err)...); err != nil {
		return Object{}, fmt.Errorf("k8stest: %s: %s %q: %w", source, tm.Kind, tm.Metadata.Name, err)
	}
	if tm.Metadata.Name == "" {
		return Object{}, fmt.Errorf("k8stest: %s: %s without metadata.name", source, tm.Kind)
	}
	return Object{Kind: tm.Kind, Name: tm.Metadata.Name, Source: source, Value: v}, nil
}

// SplitDocuments splits a YAML stream on "---" lines and drops documents
// that hold only comments and blank lines.
func SplitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []string
	content := false
	flush := func() {
		if content {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
		}
		cur, content = nil, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "---" || strings.HasPrefix(line, "--- ") {
			flush()
			continue
		}
		cur = append(cur, line)
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			content = true
		}
	}
	flush()
	return docs
}

// DecodeAll decodes every document of a YAML stream strictly.
func DecodeAll(source string, data []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	for i, doc := range SplitDocuments(data) {
		o, err := DecodeStrict(fmt.Sprintf("%s[%d]", source, i), doc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs, errors.Join(errs...)
}

// LoadDir decodes every .yaml file under dir (recursively), strictly.
func LoadDir(dir string) ([]Object, error) {
	var objs []Object
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		o, err := DecodeAll(path, data)
		objs = append(objs, o...)
		errs = append(errs, err)
		return nil
	})
	return objs, errors.Join(append(errs, err)...)
}

// Render runs `helm template` on the chart at dir through the helm library:
// release name and namespace as given, vals over the chart's values.yaml.
// It returns the rendered manifest (templates in file order).
func Render(dir, release, namespace string, vals map[string]any) (string, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return "", fmt.Errorf("k8stest: load chart: %w", err)
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = true
	inst.ReleaseName = release
	inst.Namespace = namespace
	inst.KubeVersion = KubeVersion
	rel, err := inst.Run(ch, vals)
	if err != nil {
		return "", fmt.Errorf("k8stest: helm template: %w", err)
	}
	return rel.Manifest, nil
}

// RenderObjects renders the chart and decodes every document strictly.
func RenderObjects(dir, release, namespace string, vals map[string]any) ([]Object, error) {
	m, err := Render(dir, release, namespace, vals)
	if err != nil {
		return nil, err
	}
	var objs []Object
	var errs []error
	// SplitManifests keys documents by their "# Source:" template.
	split := releaseutil.SplitManifests(m)
	keys := make([]string, 0, len(split))
	for k := range split {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	for _, k := range keys {
		src := k
		if i := strings.Index(split[k], "# Source: "); i >= 0 {
			src = strings.TrimSpace(strings.SplitN(split[k][i+len("# Source: "):], "\n", 2)[0])
		}
		o, err := DecodeAll(src, []byte(split[k]))
		objs = append(objs, o...)
		errs = append(errs, err)
	}
	return objs, errors.Join(errs...)
}

// Lint runs `helm lint --strict` through the helm library and returns its
// messages of warning severity or worse, and its errors.
func Lint(dir, namespace string, vals map[string]any) []error {
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	l.KubeVersion = KubeVersion
	res := l.Run([]string{dir}, vals)
	var errs []error
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			errs = append(errs, fmt.Errorf("k8stest: helm lint: %s", m.Error()))
		}
	}
	for _, e := range res.Errors {
		errs = append(errs, fmt.Errorf("k8stest: helm lint: %w", e))
	}
	return errs
}

// Find returns the objects of kind; name "" matches any.
func Find[T any](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.Value.(T); ok {
			out = append(out, v)
		}
	}
	return out
}
