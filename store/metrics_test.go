package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/internal/testenv"
)

// recordObserver keeps every observation.
type recordObserver struct {
	mu  sync.Mutex
	got []observation
}

type observation struct {
	op, bucket string
	result     Result
	took       time.Duration
}

func (r *recordObserver) ObserveS3(op, bucket string, took time.Duration, result Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, observation{op, bucket, result, took})
}

func (r *recordObserver) take() []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// TestObserverSeesEveryOperation: each S3 call a Store makes is reported
// once to its Observer, named by the SDK's operation, with its bucket and
// an outcome that tells a missing object or a failed condition from a
// failure.
func TestObserverSeesEveryOperation(t *testing.T) {
	endpoint := testenv.S3(t)
	obs := &recordObserver{}
	s, err := New(context.Background(), Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: demo.SecretKey}, WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := New(context.Background(), Config{Endpoint: endpoint, Region: demo.Region, PathStyle: true,
		AccessKey: demo.AccessKey, SecretKey: "wrong"}, WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := fmt.Sprintf("store-metrics-test/%d", time.Now().UnixNano())
	t.Cleanup(func() { s.Delete(ctx, demo.Bucket, key) })
	tests := []struct {
		name   string
		call   func() error
		op     string
		bucket string
		result Result
	}{
		{"HEAD of a missing object", func() error { _, err := s.Head(ctx, demo.Bucket, key); return err },
			"HeadObject", demo.Bucket, ResultNotFound},
		{"PUT", func() error { return s.Put(ctx, demo.Bucket, key, []byte("x"), "text/plain", nil) },
			"PutObject", demo.Bucket, ResultOK},
		{"HEAD", func() error { _, err := s.Head(ctx, demo.Bucket, key); return err },
			"HeadObject", demo.Bucket, ResultOK},
		{"GET", func() error { _, _, err := s.Get(ctx, demo.Bucket, key, 0); return err },
			"GetObject", demo.Bucket, ResultOK},
		{"conditional PUT that fails its condition", func() error {
			_, err := s.PutIf(ctx, demo.Bucket, key, []byte("y"), Cond{IfAbsent: true})
			if err == nil {
				return fmt.Errorf("PutIf succeeded")
			}
			return nil
		}, "PutObject", demo.Bucket, ResultPrecondition},
		{"bucket that does not exist", func() error {
			if err := s.Ping(ctx, "no-such-bucket-edgegate"); err == nil {
				return fmt.Errorf("Ping succeeded")
			}
			return nil
		}, "HeadBucket", "no-such-bucket-edgegate", ResultNotFound},
		{"refused: wrong secret key", func() error {
			if _, err := bad.Head(ctx, demo.Bucket, key); err == nil {
				return fmt.Errorf("Head succeeded")
			}
			return nil
		}, "HeadObject", demo.Bucket, ResultError},
		{"DELETE", func() error { return s.Delete(ctx, demo.Bucket, key) },
			"DeleteObject", demo.Bucket, ResultOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			got := obs.take()
			if len(got) != 1 {
				t.Fatalf("observed %+v; want one %s", got, tt.op)
			}
			o := got[0]
			if o.op != tt.op || o.bucket != tt.bucket || o.result != tt.result || o.took <= 0 {
				t.Errorf("observed %+v; want %s on %s, %s, a positive duration", o, tt.op, tt.bucket, tt.result)
			}
		})
	}
	if !slices.Contains(Results(), ResultPrecondition) || len(Results()) != 4 {
		t.Errorf("Results() = %v", Results())
	}
}
