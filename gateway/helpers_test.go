package gateway

import (
	"bufio"
	"bytes"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

func putInput(bucket, key string, body []byte) *s3.PutObjectInput {
	return &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
}
