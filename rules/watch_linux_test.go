package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// waitWatching returns once this process has an inotify watch on dir, as
// listed in /proc/self/fdinfo: Watch registers its watches on its own
// goroutine, and a change made before that is never seen (these tests
// poll hourly). Where the watches cannot be seen it gives up after 5s and
// lets the test go on, which then fails if an event is missed.
func waitWatching(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		time.Sleep(50 * time.Millisecond)
		return
	}
	want := []byte(fmt.Sprintf(" ino:%x ", st.Ino))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		fds, err := os.ReadDir("/proc/self/fdinfo")
		if err != nil {
			break
		}
		for _, fd := range fds {
			b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if line := sc.Bytes(); bytes.HasPrefix(line, []byte("inotify ")) && bytes.Contains(line, want) {
					return
				}
			}
		}
	}
	t.Logf("no inotify watch on %s seen in /proc/self/fdinfo; going on", dir)
}
