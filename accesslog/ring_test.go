package accesslog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTailKeepsLastWholeLines(t *testing.T) {
	tl := NewTail(4 << 10)
	var all []string
	for i := range 500 { // about 12 KiB: wraps three times
		line := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%17))
		all = append(all, line)
		tl.Write([]byte(line + "\n"))
	}
	got, held := tl.Last(1000, nil)
	if held == 0 || held != len(got) {
		t.Fatalf("held %d, got %d lines", held, len(got))
	}
	want := all[len(all)-len(got):]
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q, want %q (the tail must hold only whole lines, in order)", i, got[i], want[i])
		}
	}
	if size := len(strings.Join(got, "\n")); size > 4<<10 || size < 3<<10 {
		t.Errorf("kept %d bytes of lines; want most of 4 KiB", size)
	}
	last2, _ := tl.Last(2, nil)
	if len(last2) != 2 || last2[1] != all[499] || last2[0] != all[498] {
		t.Errorf("Last(2) = %q", last2)
	}
	odd, _ := tl.Last(3, func(l []byte) bool { return bytes.Contains(l, []byte(`"pad":""`)) })
	if len(odd) == 0 || !strings.Contains(odd[len(odd)-1], `"n":493,`) {
		t.Errorf("filtered Last = %q; want lines with an empty pad, the last n=493", odd)
	}
}

func TestTailPartialAndHugeWrites(t *testing.T) {
	tl := NewTail(4 << 10)
	tl.Write([]byte("one\ntw"))
	if got, _ := tl.Last(10, nil); len(got) != 1 || got[0] != "one" {
		t.Fatalf("a line without its newline yet must not show: %q", got)
	}
	tl.Write([]byte("o\n"))
	if got, _ := tl.Last(10, nil); len(got) != 2 || got[1] != "two" {
		t.Fatalf("got %q", got)
	}
	big := strings.Repeat("y", 10<<10) + "\nlast\n"
	tl.Write([]byte(big))
	if got, _ := tl.Last(10, nil); len(got) != 1 || got[0] != "last" {
		t.Fatalf("after a write larger than the tail: %q", got)
	}
	var nilTail *Tail
	nilTail.Write([]byte("x\n"))
	if got, held := nilTail.Last(5, nil); got != nil || held != 0 {
		t.Fatal("a nil tail keeps nothing")
	}
}

func TestOpenTailWritesBoth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	cfg := DefaultConfig()
	cfg.Enabled, cfg.Output, cfg.FlushInterval = true, path, time.Millisecond
	tl := NewTail(64 << 10)
	l, err := OpenTail(cfg, tl)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e := l.Reserve()
		e.Status = 200 + i
		l.Commit(e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, held := tl.Last(10, nil)
	if held != 3 || strings.Join(got, "\n")+"\n" != string(file) {
		t.Fatalf("tail %q (%d held) differs from the file %q", got, held, file)
	}
}
