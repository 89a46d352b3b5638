package uploads

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// S3 is the bucket the sources go to and the variants are listed in.
type S3 struct {
	Client *s3.Client
	Bucket string
}

// List lists one page (up to 1000 keys) under prefix after startAfter.
func (b S3) List(ctx context.Context, prefix, startAfter string) ([]string, bool, error) {
	in := &s3.ListObjectsV2Input{Bucket: &b.Bucket, Prefix: &prefix, MaxKeys: aws.Int32(1000)}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	out, err := b.Client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("uploads: list %s/%s: %w", b.Bucket, prefix, err)
	}
	keys := make([]string, 0, len(out.Contents))
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, aws.ToBool(out.IsTruncated), nil
}

// Put stores body at key and returns its ETag, without quotes.
func (b S3) Put(ctx context.Context, key string, body []byte, contentType string) (string, error) {
	out, err := b.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.Bucket, Key: &key,
		Body: bytes.NewReader(body), ContentType: &contentType, ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		return "", fmt.Errorf("uploads: put %s/%s: %w", b.Bucket, key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// Queue is the SQS queue the events are sent to.
type Queue struct {
	Client *sqs.Client
	URL    string
}

// Send sends one message.
func (q Queue) Send(ctx context.Context, body string) error {
	if _, err := q.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.URL, MessageBody: &body}); err != nil {
		return fmt.Errorf("uploads: send to %s: %w", q.URL, err)
	}
	return nil
}

// Messages is how many messages the queue at url holds, visible or in
// flight (approximate, as SQS counts them).
func (q Queue) Messages(ctx context.Context, url string) (int, error) {
	out, err := q.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return 0, fmt.Errorf("uploads: attributes of %s: %w", url, err)
	}
	n := 0
	for _, a := range []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		v, _ := strconv.Atoi(out.Attributes[string(a)])
		n += v
	}
	return n, nil
}
