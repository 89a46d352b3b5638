package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/testenv"
)

// fleetMember is one gateway of a fleet test: a real `edgegate serve`
// process (this test binary, as in restart_test.go) on its own loopback
// address, which can be stopped with SIGTERM and started again on the
// same addresses, config and rules directory.
type fleetMember struct {
	name     string
	pub, adm string // host:port on the member's own 127.0.0.x
	config   string // config file path
	rules    *configMapDir

	mu     sync.Mutex
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan error // cmd.Wait's result, once
}

// newFleetMember writes the member's config (YAML without listeners or
// rules) and its rules directory; ip is its loopback address.
func newFleetMember(t *testing.T, name, ip, config string, rules []byte) *fleetMember {
	t.Helper()
	dir := t.TempDir()
	m := &fleetMember{name: name, pub: freeAddrOn(t, ip), adm: freeAddrOn(t, ip),
		config: filepath.Join(dir, "edgegate.yaml"), rules: newConfigMapDir(t, filepath.Join(dir, "rules"))}
	m.rules.update(t, map[string][]byte{"rules.yaml": rules})
	config = fmt.Sprintf("rules: %s\n%s", filepath.Join(m.rules.dir, "rules.yaml"), config)
	if err := os.WriteFile(m.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.cmd != nil {
			m.cmd.Process.Kill()
			<-m.exited
		}
	})
	return m
}

// start runs the process; it does not wait for it to be ready.
func (m *fleetMember) start(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(os.Args[0], "serve", "--config", m.config, "--listen", m.pub, "--admin-listen", m.adm, "--log-format", "json")
	cmd.Env = append(os.Environ(), "EDGEGATE_TEST_RUN_MAIN=1")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", m.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	m.cmd, m.logs, m.exited = cmd, logs, exited
}

// waitReady waits up to d for /readyz to answer 200.
func (m *fleetMember) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); readyz(m.adm) != http.StatusOK; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v:\n%s", m.name, d, m.log())
		}
	}
}

// stop sends SIGTERM and waits up to d for a clean exit.
func (m *fleetMember) stop(t *testing.T, d time.Duration) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", m.name, err)
	}
	select {
	case err := <-m.exited:
		m.cmd = nil
		if err != nil {
			t.Fatalf("%s exited: %v\n%s", m.name, err, m.logs.String())
		}
	case <-time.After(d):
		t.Fatalf("%s still running %v after SIGTERM:\n%s", m.name, d, m.logs.String())
	}
}

func (m *fleetMember) log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs.String()
}

// metric sums the member's /metrics series named name whose labels
// include every one of labels (`operation="PutObject"`).
func (m *fleetMember) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.adm + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", m.name, err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(lbl, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && all {
			sum += v
		}
	}
	return sum
}

// freeAddrOn returns ip:port with a port free on ip just now.
func freeAddrOn(t *testing.T, ip string) string { return testenv.FreeAddrOn(t, ip) }

// configMapDir is a directory laid out as the kubelet mounts a ConfigMap:
// each file is a symlink through ..data, which points at a timestamped
// directory; an update writes a new directory, points ..data_tmp at it
// and renames ..data_tmp over ..data (one atomic swap for all files), then
// removes the old directory.
type configMapDir struct {
	dir     string
	current string // ..data's target, a base name
	n       int
}

func newConfigMapDir(t *testing.T, dir string) *configMapDir {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &configMapDir{dir: dir}
}

// update delivers a new version of the files (the same names each time).
func (c *configMapDir) update(t *testing.T, files map[string][]byte) {
	t.Helper()
	c.n++
	version := fmt.Sprintf("..2026_12_01_00_00_%02d.%d", c.n, time.Now().UnixNano())
	if err := os.Mkdir(filepath.Join(c.dir, version), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(c.dir, version, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if c.current != "" {
		os.RemoveAll(filepath.Join(c.dir, c.current))
	}
	c.current = version
	for name := range files {
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

// s3Recorder is a reverse proxy in front of the S3 server that records
// the status of every PUT the server answered, by object path: what the
// server itself did, whatever the gateways believe.
type s3Recorder struct {
	URL string
	mu  sync.Mutex
	put map[string][]int // /bucket/key → statuses in answer order
}

func newS3Recorder(t *testing.T, endpoint string) *s3Recorder {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	r := &s3Recorder{put: map[string][]int{}}
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the signed Host header as sent
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPut {
			r.mu.Lock()
			r.put[resp.Request.URL.Path] = append(r.put[resp.Request.URL.Path], resp.StatusCode)
			r.mu.Unlock()
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	r.URL = "http://" + l.Addr().String()
	return r
}

// puts returns the statuses the server answered PUTs of bucket/key.
func (r *s3Recorder) puts(bucket, key string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.put["/"+bucket+"/"+key]...)
}

// balancer spreads requests over the fleet as a load balancer does: it
// polls every member's /readyz and sends only to those that answered 200
// last, round robin.
type balancer struct {
	members []*fleetMember
	ready   []atomic.Bool
	sent    []atomic.Int64
	next    atomic.Uint64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newBalancer(members []*fleetMember, every time.Duration) *balancer {
	b := &balancer{members: members, ready: make([]atomic.Bool, len(members)),
		sent: make([]atomic.Int64, len(members)), stop: make(chan struct{})}
	for i, m := range members {
		b.ready[i].Store(readyz(m.adm) == http.StatusOK)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			c := &http.Client{Timeout: every * 4}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-b.stop:
					return
				case <-t.C:
				}
				ok := false
				if resp, err := c.Get("http://" + m.adm + "/readyz"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = resp.StatusCode == http.StatusOK
				}
				b.ready[i].Store(ok)
			}
		}()
	}
	return b
}

// pick returns the index of a ready member, waiting while none is.
func (b *balancer) pick() (int, bool) {
	for {
		n := b.next.Add(1)
		for j := range len(b.members) {
			i := int((n + uint64(j)) % uint64(len(b.members)))
			if b.ready[i].Load() {
				b.sent[i].Add(1)
				return i, true
			}
		}
		select {
		case <-b.stop:
			return 0, false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (b *balancer) close() {
	close(b.stop)
	b.wg.Wait()
}
