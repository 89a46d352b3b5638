package k8stest

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/yaml"
)

// Labels and annotations only Helm's output carries.
var helmOnly = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "checksum/"}

// normalize drops what may differ between the plain manifests and the
// chart: Helm's own labels and checksums, the Secret's values (the chart
// generates an admin token), and comments and key order in ConfigMap'd
// YAML files (compared parsed).
func normalize(t *testing.T, o Object) any {
	t.Helper()
	v := reflect.ValueOf(o.Value).Elem().Interface() // a copy of the struct
	p := reflect.New(reflect.TypeOf(v))
	p.Elem().Set(reflect.ValueOf(v))
	obj := p.Interface()
	strip := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, val := range m {
			keep := true
			for _, h := range helmOnly {
				if strings.HasPrefix(k, h) {
					keep = false
				}
			}
			if keep {
				out[k] = val
			}
		}
		return out
	}
	if a, err := meta.Accessor(obj); err == nil {
		a.SetLabels(strip(a.GetLabels()))
		a.SetAnnotations(strip(a.GetAnnotations()))
	}
	switch x := obj.(type) {
	case *corev1.Secret:
		x.Data, x.StringData = nil, nil
	case *corev1.ConfigMap:
		parsed := map[string]any{}
		for k, val := range x.Data {
			var doc any
			if err := yaml.Unmarshal([]byte(val), &doc); err != nil {
				t.Fatalf("%s: ConfigMap %s key %s: %v", o.Source, x.Name, k, err)
			}
			parsed[k] = doc
		}
		x.Data = nil
		return []any{x, parsed}
	}
	if pt := podTemplate(obj); pt != nil {
		pt.Labels = strip(pt.Labels)
		pt.Annotations = strip(pt.Annotations)
	}
	return obj
}

func podTemplate(obj any) *corev1.PodTemplateSpec {
	v := reflect.ValueOf(obj).Elem()
	spec := v.FieldByName("Spec")
	if !spec.IsValid() {
		return nil
	}
	tmpl := spec.FieldByName("Template")
	if !tmpl.IsValid() || tmpl.Type() != reflect.TypeOf(corev1.PodTemplateSpec{}) {
		return nil
	}
	return tmpl.Addr().Interface().(*corev1.PodTemplateSpec)
}

// The plain manifests are the chart's defaults: every object the chart
// renders (ServiceMonitor on) is in deploy/kubernetes with the same spec,
// and the plain ones add only the Namespace.
func TestPlainManifestsAgreeWithTheChart(t *testing.T) {
	plain, err := LoadDir(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := RenderObjects(chartDir, release, namespace, map[string]any{"serviceMonitor": map[string]any{"enabled": true}})
	if err != nil {
		t.Fatal(err)
	}
	index := func(objs []Object) map[string]Object {
		m := map[string]Object{}
		for _, o := range objs {
			key := o.Kind + "/" + o.Name
			if _, dup := m[key]; dup {
				t.Errorf("%s: %s twice", o.Source, key)
			}
			m[key] = o
		}
		return m
	}
	p, c := index(plain), index(chart)
	for key, co := range c {
		po, ok := p[key]
		if !ok {
			t.Errorf("%s (%s) is not in the plain manifests", key, co.Source)
			continue
		}
		if a, b := normalize(t, po), normalize(t, co); !equality.Semantic.DeepEqual(a, b) {
			t.Errorf("%s: plain (%s) and chart (%s) differ:\n%s", key, po.Source, co.Source, diff.Diff(a, b))
		}
	}
	for key, po := range p {
		if _, ok := c[key]; !ok && po.Kind != "Namespace" {
			t.Errorf("%s (%s) is not rendered by the chart", key, po.Source)
		}
	}
}
