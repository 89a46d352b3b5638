package store

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Observer is told of every S3 operation a Store sends, for metrics: the
// gateway implements it with Prometheus collectors, so that this package
// needs no metrics library. ObserveS3 is called on the caller's goroutine
// once the operation's answer (its headers: a GET's body streams after)
// or its last error is in, retries included; implementations must be safe
// for concurrent use and quick.
type Observer interface {
	// ObserveS3 reports one operation: its SDK name (HeadObject,
	// GetObject, PutObject, DeleteObject, ListObjectsV2, HeadBucket),
	// the bucket (one the configuration or the rules name: a bounded
	// set), how long it took and how it ended.
	ObserveS3(op, bucket string, took time.Duration, result Result)
}

// Result is how an S3 operation ended; the set is closed (Results).
type Result string

// The results an Observer is told.
const (
	ResultOK           Result = "ok"
	ResultNotFound     Result = "not_found"    // 404: an answer, not a failure
	ResultPrecondition Result = "precondition" // 412 or 409 on a conditional write: an answer too
	ResultError        Result = "error"        // anything else: S3 refused, failed or did not answer in time
)

// Results lists every Result.
func Results() []Result {
	return []Result{ResultOK, ResultNotFound, ResultPrecondition, ResultError}
}

// Option adjusts a Store built by New.
type Option func(*Store)

// WithObserver reports every S3 operation to o.
func WithObserver(o Observer) Option {
	return func(s *Store) { s.observer = o }
}

// observeMiddleware times each operation around everything the SDK does
// for it (signing, retries, the round trips) and reports it to o.
func observeMiddleware(o Observer) func(*middleware.Stack) error {
	mw := middleware.InitializeMiddlewareFunc("edgegate.observe", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		start := time.Now()
		out, md, err := next.HandleInitialize(ctx, in)
		o.ObserveS3(middleware.GetOperationName(ctx), bucketOf(in.Parameters), time.Since(start), resultOf(err))
		return out, md, err
	})
	return func(st *middleware.Stack) error { return st.Initialize.Add(mw, middleware.Before) }
}

// bucketOf returns the bucket of the operations the Store sends.
func bucketOf(params any) string {
	var b *string
	switch in := params.(type) {
	case *s3.HeadObjectInput:
		b = in.Bucket
	case *s3.GetObjectInput:
		b = in.Bucket
	case *s3.PutObjectInput:
		b = in.Bucket
	case *s3.DeleteObjectInput:
		b = in.Bucket
	case *s3.ListObjectsV2Input:
		b = in.Bucket
	case *s3.HeadBucketInput:
		b = in.Bucket
	}
	return aws.ToString(b)
}

func resultOf(err error) Result {
	if err == nil {
		return ResultOK
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return ResultNotFound
		case http.StatusPreconditionFailed, http.StatusConflict:
			return ResultPrecondition
		}
	}
	return ResultError
}
