package certs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
	"github.com/edgegate/edgegate/store"
)

func testS3Storage(t *testing.T, prefix string, lease time.Duration) *s3Storage {
	t.Helper()
	st, err := store.New(context.Background(), store.Config{Endpoint: testenv.S3(t), Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return newS3Storage(st, demo.Bucket, prefix, slog.New(slog.DiscardHandler), lease, 50*time.Millisecond)
}

// The storage keeps certmagic's contract on the real S3 server: a missing
// key is fs.ErrNotExist, "directories" are key prefixes, Delete of a
// directory removes what is under it.
func TestS3StorageContract(t *testing.T) {
	ctx := context.Background()
	s := testS3Storage(t, fmt.Sprintf("test/certs-storage/%d", time.Now().UnixNano()), 0)
	if _, err := s.Load(ctx, "certificates/x/x.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	if s.Exists(ctx, "certificates") {
		t.Fatal("Exists on an empty storage")
	}
	for _, k := range []string{"certificates/ca/a/a.crt", "certificates/ca/a/a.key", "certificates/ca/b/b.crt", "acme/users/u.json"} {
		if err := s.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Load(ctx, "certificates/ca/a/a.key")
	if err != nil || string(b) != "v:certificates/ca/a/a.key" {
		t.Fatalf("Load = %q, %v", b, err)
	}
	if !s.Exists(ctx, "certificates/ca") || !s.Exists(ctx, "certificates/ca/a/a.crt") || s.Exists(ctx, "certificates/c") {
		t.Error("Exists: wrong for a directory, a file or a missing key")
	}
	if ki, err := s.Stat(ctx, "certificates/ca/a/a.crt"); err != nil || !ki.IsTerminal || ki.Size == 0 || ki.Modified.IsZero() {
		t.Errorf("Stat of a file = %+v, %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca"); err != nil || ki.IsTerminal {
		t.Errorf("Stat of a directory = %+v, %v", ki, err)
	}
	if _, err := s.Stat(ctx, "nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing key: %v", err)
	}
	top, err := s.List(ctx, "certificates/ca", false)
	if want := []string{"certificates/ca/a", "certificates/ca/b"}; err != nil || !slices.Equal(top, want) {
		t.Errorf("List = %q, %v, want %q", top, err, want)
	}
	all, err := s.List(ctx, "certificates", true)
	if want := []string{"certificates/ca/a/a.crt", "certificates/ca/a/a.key", "certificates/ca/b/b.crt"}; err != nil || !slices.Equal(all, want) {
		t.Errorf("recursive List = %q, %v, want %q", all, err, want)
	}
	if err := s.Delete(ctx, "certificates/ca/a"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a/a.crt") || !s.Exists(ctx, "certificates/ca/b/b.crt") {
		t.Error("Delete of a directory: wrong keys left")
	}
	if err := s.Delete(ctx, "certificates/ca/a"); err != nil {
		t.Errorf("Delete again: %v", err)
	}
	for _, k := range []string{"certificates/ca/b/b.crt", "acme/users/u.json"} {
		s.Delete(ctx, k)
	}
}

// The lock excludes a second holder while the first holds it (its lease
// renewed meanwhile), is free again at Unlock, and is taken over once a
// dead holder's lease has passed.
func TestS3StorageLock(t *testing.T) {
	ctx := context.Background()
	prefix := fmt.Sprintf("test/certs-lock/%d", time.Now().UnixNano())
	// Renewed every third of it: a takeover needs three renewals in a row
	// to be late, which a busy machine must not cause.
	const lease = 1500 * time.Millisecond
	a, b := testS3Storage(t, prefix, lease), testS3Storage(t, prefix, lease)
	if err := a.Lock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	// Two leases long: only renewals keep b out.
	short, cancel := context.WithTimeout(ctx, 2*lease)
	err := b.Lock(short, "issue_cert_x")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v, want the context's deadline", err)
	}
	if err := b.Lock(ctx, "other"); err != nil {
		t.Fatalf("another name: %v", err)
	}
	if err := a.Unlock(ctx, "issue_cert_x"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_x") }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Lock after Unlock did not return")
	}
	b.Unlock(ctx, "issue_cert_x")
	b.Unlock(ctx, "other")
	if err := b.Unlock(ctx, "other"); err == nil {
		t.Error("Unlock of a lock not held: nil error")
	}

	// A holder that died: its lock object says the lease ended.
	dead, _ := json.Marshal(lockBody{Owner: "dead", Expires: time.Now().Add(-time.Second)})
	if _, err := a.st.PutIf(ctx, a.bucket, a.lockKey("issue_cert_y"), dead, store.Cond{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	short, cancel = context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.Lock(short, "issue_cert_y"); err != nil {
		t.Fatalf("Lock of an expired lock: %v", err)
	}
	if err := b.Unlock(ctx, "issue_cert_y"); err != nil {
		t.Fatal(err)
	}
	if a.Exists(ctx, "locks/issue_cert_y.lock") {
		t.Error("the lock object is left after Unlock")
	}
}
