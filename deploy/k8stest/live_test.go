package k8stest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The tests below run the real gateway (built from this repository) and a
// real S3 server (versitygw) as the manifests would in a pod: the config
// and rules laid out as the kubelet lays out ConfigMap volumes, the
// environment built from the container's env and a Secret, probed as the
// kubelet probes.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// edgegateBinary builds cmd/edgegate once.
func edgegateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "k8stest-bin-")
		if binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "edgegate"), "./cmd/edgegate")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/edgegate: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "edgegate")
}

// kubeletVolume lays files out in dir as the kubelet's atomic writer does
// for a ConfigMap volume: the files in a timestamped directory, a ..data
// symlink to it, and each file a symlink through ..data. Called again, it
// swaps ..data to a new directory with one rename, as an update does.
func kubeletVolume(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	ts := fmt.Sprintf("..%s.%d", time.Now().UTC().Format("2006_01_02_15_04_05"), time.Now().UnixNano())
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, ts, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		os.RemoveAll(filepath.Join(dir, old))
	}
}

// freePort returns a loopback port that was free just now, taken from
// [10000, 32768), below Linux's ephemeral range, as the main module's
// testenv.FreeAddr does: an ephemeral port (":0") can be taken as the
// local port of any outgoing connection before the gateway binds it.
func freePort(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 10000 + rand.IntN(32768-10000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free port in [10000, 32768)")
	return 0
}

// cleanEnv is the environment for the gateway: no EDGEGATE_* variable of
// the test run leaks in.
func cleanEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// The ConfigMap'd edgegate.yaml and rules pass `edgegate check`, as an
// operator would run it before applying.
func TestShippedConfigPassesEdgegateCheck(t *testing.T) {
	bin := edgegateBinary(t)
	for name, objs := range sources(t) {
		if name == "chart-all-on" {
			continue // its GeoIP files live on a volume this machine lacks
		}
		s := load(t, name, objs)
		dir := t.TempDir()
		cfg := filepath.Join(dir, "edgegate.yaml")
		rules := filepath.Join(dir, "rules.yaml")
		os.WriteFile(cfg, []byte(s.cfgMap.Data["edgegate.yaml"]), 0o644)
		os.WriteFile(rules, []byte(s.rulesMap.Data[path.Base(s.cfg.Rules)]), 0o644)
		cmd := exec.Command(bin, "check", "--config", cfg, "--rules", rules)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Errorf("%s: edgegate check: %v\n%s", name, err, out)
		}
	}
}

func versitygw(t *testing.T, buckets ...string) string {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gobin, _ := exec.Command("go", "env", "GOBIN").Output()
		dir := strings.TrimSpace(string(gobin))
		if dir == "" {
			gopath, _ := exec.Command("go", "env", "GOPATH").Output()
			dir = filepath.Join(strings.TrimSpace(string(gopath)), "bin")
		}
		bin = filepath.Join(dir, "versitygw")
	}
	data := t.TempDir()
	for _, b := range buckets {
		// The posix backend's buckets are directories.
		if err := os.MkdirAll(filepath.Join(data, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--port", addr, "--access", "k8stest", "--secret", "k8stest-secret",
		"--region", "us-east-1", "--health", "/health", "posix", data)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("versitygw (scripts/deps.sh installs it): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 20*time.Second, "versitygw health", func() error {
		return expect(get("http://"+addr+"/health", ""), 200)
	})
	return "http://" + addr
}

type answer struct {
	status int
	body   string
	err    error
}

var client = &http.Client{Timeout: 3 * time.Second}

func do(req *http.Request) answer {
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b)}
}

// get sends GET url with Host set to host (the kubelet sends the pod IP).
func get(url, host string) answer {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if host != "" {
		req.Host = host
	}
	return do(req)
}

func expect(a answer, status int) error {
	if a.err != nil {
		return a.err
	}
	if a.status != status {
		return fmt.Errorf("status %d, want %d: %.200s", a.status, status, a.body)
	}
	return nil
}

func waitFor(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withPort replaces addr's port, keeping its host part (":9090" stays on
// all addresses, as in the pod).
func withPort(addr string, port int) string {
	host, _, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, fmt.Sprint(port))
}

// TestPodAsRendered runs the gateway the way the plain manifests run it:
// kubelet-style volumes, env from the container spec and the Secret, the
// probes' paths and port, the ServiceMonitor's scrape, the admin Service's
// name, a rules ConfigMap update, and SIGTERM with shutdown_delay.
func TestPodAsRendered(t *testing.T) {
	bin := edgegateBinary(t)
	plain, err := LoadDir(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	s := load(t, "plain", plain)
	var rulesDoc struct {
		Routes []struct {
			Bucket string `json:"bucket"`
		} `json:"routes"`
	}
	rulesName := path.Base(s.cfg.Rules)
	rulesText := s.rulesMap.Data[rulesName]
	if err := yaml.Unmarshal([]byte(rulesText), &rulesDoc); err != nil || len(rulesDoc.Routes) == 0 {
		t.Fatalf("rules: %v", err)
	}
	endpoint := versitygw(t, rulesDoc.Routes[0].Bucket)

	// The pod's filesystem: each mount path becomes a directory here.
	root := t.TempDir()
	mounts := map[string]string{}
	for _, m := range s.container.VolumeMounts {
		mounts[m.MountPath] = filepath.Join(root, strings.ReplaceAll(strings.Trim(m.MountPath, "/"), "/", "_"))
		if err := os.MkdirAll(mounts[m.MountPath], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfgMount := path.Dir(s.container.Args[len(s.container.Args)-1])
	rulesMount := path.Dir(s.cfg.Rules)

	// edgegate.yaml as shipped, but with free ports (same host parts), the
	// rules at their mount's stand-in, and the test's S3 server.
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(s.cfgMap.Data[path.Base(s.container.Args[len(s.container.Args)-1])]), &cfg); err != nil {
		t.Fatal(err)
	}
	httpPort, adminPort := freePort(t), freePort(t)
	cfg["listen"] = withPort(s.cfg.Listen, httpPort)
	cfg["admin_listen"] = withPort(s.cfg.AdminListen, adminPort)
	cfg["rules"] = filepath.Join(mounts[rulesMount], rulesName)
	s3 := cfg["s3"].(map[string]any)
	s3["endpoint"], s3["path_style"] = endpoint, true
	cfgText, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kubeletVolume(t, mounts[cfgMount], map[string]string{"edgegate.yaml": string(cfgText)})
	kubeletVolume(t, mounts[rulesMount], map[string]string{rulesName: rulesText})

	// The environment: literal values, and secretKeyRefs from this Secret
	// (optional keys that it lacks stay unset, as the kubelet does).
	const token = "k8stest-admin-token-0123456789abcdef"
	// Every key the container reads, so that every variable name is one
	// the gateway takes (it refuses unknown EDGEGATE_ variables).
	secret := map[string]string{"admin-token": token, "s3-access-key": "k8stest", "s3-secret-key": "k8stest-secret",
		"img-signing-keys": "hex:" + strings.Repeat("6b", 32), "events-token": "k8stest-events-token"}
	var env []string
	for _, e := range s.container.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if v, ok := secret[ref.Key]; ok {
				env = append(env, e.Name+"="+v)
			} else if ref.Optional == nil || !*ref.Optional {
				t.Fatalf("env %s: Secret key %s is missing and not optional: the pod would not start", e.Name, ref.Key)
			}
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		default:
			t.Fatalf("env %s: a source this test does not model: %+v", e.Name, e.ValueFrom)
		}
	}
	args := append([]string(nil), s.container.Args...)
	args[len(args)-1] = filepath.Join(mounts[cfgMount], "edgegate.yaml")
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv(env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	}()

	admin := func(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, p) }
	public := func(p string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, p) }
	podHost := fmt.Sprintf("10.244.1.7:%d", adminPort) // what the kubelet and Prometheus send
	ready, live := s.container.ReadinessProbe.HTTPGet.Path, s.container.LivenessProbe.HTTPGet.Path

	// Readiness needs the rules and S3 with the Secret's credentials.
	waitFor(t, 30*time.Second, "readiness probe "+ready, func() error { return expect(get(admin(ready), podHost), 200) })
	if err := expect(get(admin(live), podHost), 200); err != nil {
		t.Errorf("liveness probe %s: %v", live, err)
	}
	// The ServiceMonitor's scrape.
	if m := get(admin("/metrics"), podHost); expect(m, 200) != nil || !strings.Contains(m.body, "edgegate_build_info") {
		t.Errorf("scrape /metrics: %v %.200s", m.err, m.body)
	}
	// By the admin Service's name (admin.hosts), and by a stranger's.
	for _, h := range s.cfg.Admin.Hosts {
		if err := expect(get(admin(live), h+":9090"), 200); err != nil {
			t.Errorf("Host %s: %v", h, err)
		}
	}
	if err := expect(get(admin(live), "rebind.example.com:9090"), http.StatusMisdirectedRequest); err != nil {
		t.Errorf("a foreign Host: %v", err)
	}
	// POST /-/reload needs the Secret's token (401 without it, not 403:
	// the token reached the gateway through EDGEGATE_ADMIN_TOKEN).
	for _, tt := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer " + token, 200}} {
		req, _ := http.NewRequest(http.MethodPost, admin("/-/reload"), nil)
		req.Host = podHost
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		if err := expect(do(req), tt.status); err != nil {
			t.Errorf("POST /-/reload with %q: %v", tt.auth, err)
		}
	}
	// The public port answers (a request S3 is not needed for).
	if err := expect(get(public("/r/x?region=atlantis"), ""), 400); err != nil {
		t.Errorf("public port: %v", err)
	}

	// A rules ConfigMap update: the kubelet swaps ..data; the gateway
	// reloads without a restart.
	hash := func() string {
		var r struct {
			Rules string `json:"rules"`
		}
		a := get(admin(ready), podHost)
		json.Unmarshal([]byte(a.body), &r)
		return r.Rules
	}
	before := hash()
	updated := strings.Replace(rulesText, "regions:\n", "regions:\n  atlantis: {country: AQ, prefix: atlantis/, fallback: global}\n", 1)
	if updated == rulesText {
		t.Fatal("rules: could not add a region")
	}
	swapped := time.Now()
	kubeletVolume(t, mounts[rulesMount], map[string]string{rulesName: updated})
	waitFor(t, 10*time.Second, "rules reload after the ..data swap", func() error {
		if h := hash(); h == before || h == "" {
			return fmt.Errorf("hash still %q", h)
		}
		return nil
	})
	t.Logf("rules reloaded %v after the ..data swap", time.Since(swapped).Round(time.Millisecond))
	if a := get(public("/r/x?region=atlantis"), ""); a.err != nil || a.status == 400 {
		t.Errorf("the new region after reload: %d %v %.200s", a.status, a.err, a.body)
	}

	// SIGTERM, as the kubelet sends it (there is no preStop): /readyz 503
	// at once, the public port still answering for shutdown_delay, then a
	// clean exit within terminationGracePeriodSeconds.
	delay := duration(t, s.cfg.ShutdownDelay)
	grace := time.Duration(*s.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	term := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "readiness 503 after SIGTERM", func() error { return expect(get(admin(ready), podHost), 503) })
	for time.Since(term) < delay-time.Second {
		if err := expect(get(public("/r/x?region=atlantis-none"), ""), 400); err != nil {
			t.Fatalf("%v after SIGTERM, within shutdown_delay %v: the public port stopped answering: %v", time.Since(term).Round(time.Millisecond), delay, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	select {
	case err := <-exited:
		took := time.Since(term)
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
		if took < delay {
			t.Errorf("exited %v after SIGTERM, before shutdown_delay %v", took, delay)
		}
		t.Logf("exited %v after SIGTERM (shutdown_delay %v, grace period %v)", took.Round(time.Millisecond), delay, grace)
	case <-ctx.Done():
		t.Errorf("still running %v after SIGTERM: the kubelet would SIGKILL it", grace)
	}
}
