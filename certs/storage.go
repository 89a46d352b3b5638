package certs

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/edgegate/edgegate/store"
)

// Lock timing of s3Storage: a held lock's lease, renewed every third of
// it, and how often a waiter looks again. A gateway that dies holding a
// lock delays the others by at most the lease.
const (
	defaultLockLease = 30 * time.Second
	defaultLockPoll  = time.Second
)

// maxStoredObject bounds what Load reads: certificates, keys, account and
// metadata JSON are a few KiB.
const maxStoredObject = 1 << 20

// s3Storage is a certmagic.Storage in an S3 bucket (keys under prefix),
// shared by a fleet. Its lock is an object created with If-None-Match: *
// (so one creator wins), holding an expiry that the holder extends with
// If-Match writes; a waiter takes over a lock whose expiry passed, also
// with If-Match, so exactly one does. Safe for concurrent use.
type s3Storage struct {
	st     *store.Store
	bucket string
	prefix string // "" or ending in "/"
	log    *slog.Logger
	lease  time.Duration
	poll   time.Duration
	owner  string // this process's id in lock objects

	mu    sync.Mutex
	locks map[string]*heldLock // by lock name
}

type heldLock struct {
	mu   sync.Mutex
	etag string
	stop chan struct{}
	done chan struct{}
}

// lockBody is a lock object's content.
type lockBody struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

func newS3Storage(st *store.Store, bucket, prefix string, log *slog.Logger, lease, poll time.Duration) *s3Storage {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if lease <= 0 {
		lease = defaultLockLease
	}
	if poll <= 0 {
		poll = defaultLockPoll
	}
	id := make([]byte, 8)
	crand.Read(id)
	return &s3Storage{st: st, bucket: bucket, prefix: prefix, log: log, lease: lease, poll: poll,
		owner: hex.EncodeToString(id), locks: map[string]*heldLock{}}
}

func (s *s3Storage) key(k string) string { return s.prefix + strings.TrimPrefix(k, "/") }

// Store puts value at key.
func (s *s3Storage) Store(ctx context.Context, key string, value []byte) error {
	return s.st.Put(ctx, s.bucket, s.key(key), value, "application/octet-stream", nil)
}

// Load returns the value at key; fs.ErrNotExist if there is none.
func (s *s3Storage) Load(ctx context.Context, key string) ([]byte, error) {
	b, _, err := s.st.Get(ctx, s.bucket, s.key(key), maxStoredObject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("certs: storage %s: %w", key, fs.ErrNotExist)
	}
	return b, err
}

// Delete removes key and every key under key/.
func (s *s3Storage) Delete(ctx context.Context, key string) error {
	under, err := s.st.List(ctx, s.bucket, s.key(key)+"/", true, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, o := range under {
		if err := s.st.Delete(ctx, s.bucket, o.Key); err != nil {
			return err
		}
	}
	return s.st.Delete(ctx, s.bucket, s.key(key))
}

// Exists reports whether key is an object or a prefix of one.
func (s *s3Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under dir: all of them if recursive, else those
// directly in it (a deeper key's first level once, as a "directory").
func (s *s3Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	p := s.key(dir)
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	objs, err := s.st.List(ctx, s.bucket, p, recursive, 0)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("certs: storage %s: %w", dir, fs.ErrNotExist)
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, strings.TrimSuffix(strings.TrimPrefix(o.Key, s.prefix), "/"))
	}
	return keys, nil
}

// Stat describes key: an object, or a "directory" (a prefix of objects).
func (s *s3Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	info, err := s.st.Stat(ctx, s.bucket, s.key(key))
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: info.Modified, Size: info.Size, IsTerminal: true}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return certmagic.KeyInfo{}, err
	}
	under, lerr := s.st.List(ctx, s.bucket, s.key(key)+"/", true, 1)
	if lerr != nil {
		return certmagic.KeyInfo{}, lerr
	}
	if len(under) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: storage %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, Modified: under[0].Modified, IsTerminal: false}, nil
}

func (s *s3Storage) lockKey(name string) string { return s.key(path.Join("locks", name+".lock")) }

func (s *s3Storage) lockBody() []byte {
	b, _ := json.Marshal(lockBody{Owner: s.owner, Expires: time.Now().Add(s.lease)})
	return b
}

// Lock takes the named lock, waiting while another holder's lease lasts;
// it honours ctx.
func (s *s3Storage) Lock(ctx context.Context, name string) error {
	key := s.lockKey(name)
	for {
		etag, err := s.st.PutIf(ctx, s.bucket, key, s.lockBody(), store.Cond{IfAbsent: true})
		if err == nil {
			s.hold(name, key, etag)
			return nil
		}
		if !errors.Is(err, store.ErrPrecondition) && !errors.Is(err, store.ErrBusy) {
			return fmt.Errorf("certs: lock %s: %w", name, err)
		}
		if errors.Is(err, store.ErrPrecondition) {
			taken, err := s.takeOverExpired(ctx, name, key)
			if err != nil {
				return err
			}
			if taken {
				return nil
			}
		}
		t := time.NewTimer(s.poll/2 + rand.N(s.poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("certs: lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// takeOverExpired replaces the lock object if its lease has passed; only
// one of several waiters can (If-Match on the expired version).
func (s *s3Storage) takeOverExpired(ctx context.Context, name, key string) (bool, error) {
	obj, err := s.st.Open(ctx, s.bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // released meanwhile: create it again
	}
	if err != nil {
		if errors.Is(err, store.ErrBusy) {
			return false, nil
		}
		return false, fmt.Errorf("certs: lock %s: %w", name, err)
	}
	var lb lockBody
	derr := json.NewDecoder(obj).Decode(&lb)
	etag := obj.ETag
	obj.Close()
	if derr == nil && time.Now().Before(lb.Expires) {
		return false, nil
	}
	s.log.Warn("certs: taking over an expired storage lock", "lock", name, "owner", lb.Owner, "expired", lb.Expires)
	newTag, err := s.st.PutIf(ctx, s.bucket, key, s.lockBody(), store.Cond{IfMatch: etag})
	if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrBusy) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("certs: lock %s: %w", name, err)
	}
	s.hold(name, key, newTag)
	return true, nil
}

// hold records a lock taken and extends its lease until Unlock.
func (s *s3Storage) hold(name, key, etag string) {
	h := &heldLock{etag: etag, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.locks[name] = h
	s.mu.Unlock()
	go func() {
		defer close(h.done)
		t := time.NewTicker(s.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			h.mu.Lock()
			etag := h.etag
			h.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
			newTag, err := s.st.PutIf(ctx, s.bucket, key, s.lockBody(), store.Cond{IfMatch: etag})
			cancel()
			switch {
			case err == nil:
				h.mu.Lock()
				h.etag = newTag
				h.mu.Unlock()
			case errors.Is(err, store.ErrPrecondition):
				s.log.Error("certs: storage lock lost (taken over after its lease passed)", "lock", name)
				return
			default:
				s.log.Warn("certs: extending a storage lock's lease", "lock", name, "err", err)
			}
		}
	}()
}

// Unlock releases a lock this storage holds.
func (s *s3Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certs: unlock %s: not held", name)
	}
	close(h.stop)
	<-h.done
	key := s.lockKey(name)
	info, err := s.st.Stat(ctx, s.bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("certs: unlock %s: %w", name, err)
	}
	h.mu.Lock()
	mine := info.ETag == h.etag
	h.mu.Unlock()
	if !mine {
		return nil // taken over after our lease passed: not ours to delete
	}
	return s.st.Delete(ctx, s.bucket, key)
}
