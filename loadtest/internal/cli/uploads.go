package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/edgegate/edgegate/internal/demo"
	"github.com/edgegate/edgegate/loadtest/internal/report"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
	"github.com/edgegate/edgegate/loadtest/internal/uploads"
)

// UploadsConfig is the validated command line of `loadtest uploads`.
type UploadsConfig struct {
	QueueURL, SQSEndpoint, DeadLetterURL string
	S3Endpoint, Bucket, Prefix, Region   string
	Rate                                 float64
	Count                                int
	Presets                              []string // name or name=folder/
	VariantExt                           string
	Envelopes                            []string
	Width, Height                        int
	Deadline, Poll, DeadLetterWait       time.Duration
	PoisonEvery                          int
	RunID                                string
	ReportHTML, JSON                     string
	Quiet                                bool

	folders []string
}

// defaultFolders are the gateway's default presets' write-back folders.
var defaultFolders = map[string]string{"thumbnail": "thumbnails/", "medium": "medium/", "large": "large/"}

// ParseUploadsFlags parses the arguments after "uploads".
func ParseUploadsFlags(args []string, stderr io.Writer) (*UploadsConfig, error) {
	c := &UploadsConfig{}
	fs := flag.NewFlagSet("loadtest uploads", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: go run ./loadtest uploads --queue-url URL [flags]

The upload path end to end: puts --count sources (a generated --width x
--height JPEG) in --bucket under --prefix/RUN-ID/, then sends each one's S3
event notification to the SQS queue at --rate messages/s (open loop), and
measures for each message the lag from its intended send time to the
listing that first holds the last of its variants (one per --presets
folder). Reports lag percentiles, lost messages (variants not all stored
within --deadline), the variants stored, and the dead-letter queue's count
at the end. Credentials and region: the AWS environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION or --region).

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.QueueURL, "queue-url", "", "`URL` of the SQS queue the gateway consumes (required)")
	fs.StringVar(&c.SQSEndpoint, "sqs-endpoint", "", "SQS endpoint `URL` (a local SQS-compatible server); default AWS's for the region")
	fs.StringVar(&c.DeadLetterURL, "dead-letter-url", "", "`URL` of the queue's dead-letter queue: its message count is reported at the end")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", "", "S3 endpoint `URL` (path-style; a local S3 server); default AWS's for the region")
	fs.StringVar(&c.Bucket, "bucket", demo.Bucket, "`bucket` the sources go to and the variants are written to")
	fs.StringVar(&c.Prefix, "prefix", "global/uploads/loadtest/", "routed `prefix` (the gateway's events.eager must match it) the run's folder goes under")
	fs.StringVar(&c.Region, "region", "", "AWS `region` (default: AWS_REGION, else "+demo.Region+")")
	fs.Float64Var(&c.Rate, "rate", 50, "messages per second (open loop)")
	fs.IntVar(&c.Count, "count", 1000, "messages (one source each)")
	fs.Var(listFlag{&c.Presets}, "presets", "presets the gateway renders each upload to, as `name[=folder/]` (comma-separated; default thumbnail,medium,large with the gateway's default folders)")
	fs.StringVar(&c.VariantExt, "variant-ext", ".jpg", "extension the gateway appends to a variant's key (the format's)")
	fs.Var(listFlag{&c.Envelopes}, "envelopes", "message `envelopes` taken in turn: s3 (as S3 sends), sns, eventbridge (default s3)")
	fs.IntVar(&c.Width, "width", 1920, "source width")
	fs.IntVar(&c.Height, "height", 1080, "source height")
	fs.DurationVar(&c.Deadline, "deadline", 30*time.Second, "a message whose variants are not all listed this long after its send is lost")
	fs.DurationVar(&c.Poll, "poll", 50*time.Millisecond, "interval between listings of the variant folders (the lag's resolution)")
	fs.IntVar(&c.PoisonEvery, "poison-every", 0, "make every `N`th source a corrupt image: its message must reach the dead-letter queue (0: none)")
	fs.DurationVar(&c.DeadLetterWait, "dead-letter-wait", 60*time.Second, "with poison sources, how long to wait after the run for them to reach the dead-letter queue")
	fs.StringVar(&c.RunID, "run-id", "", "the run's folder under --prefix (default: the start time)")
	fs.StringVar(&c.ReportHTML, "report", "", "write the HTML report to `FILE.html`")
	fs.StringVar(&c.JSON, "json", "", "write the JSON results to `FILE` (- for stdout)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("loadtest: uploads: unexpected argument %q", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks the flags and fills defaults.
func (c *UploadsConfig) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("loadtest: uploads: "+format, a...)) }
	if u, err := url.Parse(c.QueueURL); c.QueueURL == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		bad("--queue-url %q: want the queue's URL (http(s)://host/ACCOUNT/NAME)", c.QueueURL)
	}
	for name, v := range map[string]string{"--sqs-endpoint": c.SQSEndpoint, "--s3-endpoint": c.S3Endpoint} {
		if _, err := parseBase(v); v != "" && err != nil {
			bad("%s: %w", name, err)
		}
	}
	if u, err := url.Parse(c.DeadLetterURL); c.DeadLetterURL != "" && (err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https")) {
		bad("--dead-letter-url %q: want the queue's URL", c.DeadLetterURL)
	}
	if c.Bucket == "" {
		bad("--bucket is required")
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if strings.HasPrefix(c.Prefix, "/") {
		bad("--prefix %q: no leading /", c.Prefix)
	}
	if len(c.Presets) == 0 {
		c.Presets = []string{"large", "medium", "thumbnail"}
	}
	c.folders = c.folders[:0]
	for _, p := range c.Presets {
		name, folder, ok := strings.Cut(p, "=")
		if !ok {
			if folder = defaultFolders[name]; folder == "" {
				folder = name + "/"
			}
		}
		if name == "" || !strings.HasSuffix(folder, "/") || strings.HasPrefix(folder, "/") {
			bad("--presets %q: want name or name=folder/", p)
			continue
		}
		c.folders = append(c.folders, folder)
	}
	if c.Width < 16 || c.Height < 16 || c.Width*c.Height > 100_000_000 {
		bad("--width x --height %dx%d: want 16 to 10^8 pixels, at least 16 each way", c.Width, c.Height)
	}
	if c.RunID == "" {
		c.RunID = time.Now().UTC().Format("20060102T150405.000000000")
	}
	if strings.Contains(c.RunID, "/") {
		bad("--run-id %q: no /", c.RunID)
	}
	run := uploads.Config{Envelopes: c.Envelopes, Rate: c.Rate, Count: c.Count, Deadline: c.Deadline,
		Poll: c.Poll, PoisonEvery: c.PoisonEvery, Source: []byte{0}, Layout: uploads.Layout{Folders: c.folders}}
	if err := run.Validate(); err != nil {
		errs = append(errs, err)
	}
	c.Envelopes = run.Envelopes
	return errors.Join(errs...)
}

// runUploads is `loadtest uploads`.
func runUploads(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := ParseUploadsFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitBadUsage
	}
	var opts []func(*config.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: uploads: AWS configuration: %v\n", err)
		return ExitBadUsage
	}
	if awsCfg.Region == "" {
		awsCfg.Region = demo.Region
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.S3Endpoint != "" {
			o.BaseEndpoint, o.UsePathStyle = aws.String(c.S3Endpoint), true
		}
	})
	sqsc := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if c.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.SQSEndpoint)
		}
	})
	src, err := demo.SampleJPEG(c.Width, c.Height)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: uploads: source image: %v\n", err)
		return ExitFailure
	}
	run := uploads.Config{
		Layout:    uploads.Layout{Prefix: c.Prefix + c.RunID + "/", SourceExt: ".jpg", Folders: c.folders, VariantExt: c.VariantExt},
		Region:    awsCfg.Region,
		Envelopes: c.Envelopes, Rate: c.Rate, Count: c.Count, Deadline: c.Deadline, Poll: c.Poll,
		PoisonEvery: c.PoisonEvery, DeadLetterURL: c.DeadLetterURL, DeadLetterWait: c.DeadLetterWait, Source: src,
	}
	pl := plot.New(plot.Title("uploads: message → variants in S3, from intended send time"), plot.Downsample(plotDownsample),
		plot.Label(func(v *vegeta.Result) string {
			if v.Error != "" {
				return v.URL + " " + v.Error
			}
			return v.URL
		}))
	var plotMu sync.Mutex
	onResult := func(o uploads.Outcome) {
		plotMu.Lock()
		defer plotMu.Unlock()
		_ = pl.Add(&vegeta.Result{Attack: "uploads", Seq: o.Seq, Timestamp: o.Intended, Latency: o.Result.Latency,
			Code: uint16(o.Result.Status), Error: o.Result.Cause, URL: o.Result.Name})
	}
	var progress io.Writer
	if !c.Quiet {
		progress = stderr
		fmt.Fprintf(stderr, "loadtest: uploads: %d messages at %g/s to %s; sources under %s/%s\n", c.Count, c.Rate, c.QueueURL, c.Bucket, run.Layout.Prefix)
	}
	started := time.Now()
	bucket := uploads.S3{Client: s3c, Bucket: c.Bucket}
	queue := uploads.Queue{Client: sqsc, URL: c.QueueURL}
	sum, err := uploads.Run(ctx, run, bucket, queue, queue, onResult, progress)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitFailure
	}

	rep := &report.Report{
		Scenario: "uploads", Description: "S3 upload events through SQS: lag from message to every variant in S3",
		Target: c.QueueURL, Mode: "open", Client: "sqs", Started: started.UTC().Format(time.RFC3339),
		DurationS: float64(c.Count) / c.Rate, ElapsedS: sum.Elapsed.Seconds(), RequestedRate: c.Rate,
		Schedule: sum.Schedule, ByRequest: map[string]stats.Summary{}, Order: c.Envelopes,
		Uploads: &report.Uploads{
			Bucket: c.Bucket, Prefix: run.Layout.Prefix, Presets: c.Presets, Envelopes: c.Envelopes,
			SourceWidth: c.Width, SourceHeight: c.Height, SourceBytes: len(src), UploadS: sum.UploadS,
			PollMs: float64(c.Poll) / float64(time.Millisecond), DeadlineS: c.Deadline.Seconds(),
			Messages: sum.Sources, Poison: sum.Poison, Lost: sum.Lost, SendErrors: sum.SendErrors,
			VariantsExpected: sum.VariantsExpected, VariantsStored: sum.VariantsStored,
			DeadLetter: sum.DeadLetter, QueueLeft: sum.QueueLeft, Lists: sum.Lists, ListError: sum.ListError,
		},
	}
	total := stats.New()
	for _, e := range c.Envelopes {
		total.Merge(sum.ByEnvelope[e])
		rep.ByRequest[e] = sum.ByEnvelope[e].Summary()
	}
	rep.Total = total.Summary()
	rep.Distribution = stats.Distribution(total.Latency)
	if s := rep.DurationS; s > 0 {
		rep.SentRate = float64(sum.Schedule.Sent) / s
	}
	if s := sum.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(total.Requests) / s
		rep.SuccessRate = float64(total.OK) / s
	}
	plotHTML := ""
	if total.Requests > 0 {
		pl.Close()
		var buf bytes.Buffer
		if _, err := pl.WriteTo(&buf); err == nil {
			plotHTML = buf.String()
		}
	}
	return writeOutputs(&Config{JSON: c.JSON, ReportHTML: c.ReportHTML}, rep, plotHTML, stdout, stderr)
}

// printUploads is the uploads part of the summary.
func printUploads(w io.Writer, u *report.Uploads) {
	dlq := "not read"
	if u.DeadLetter >= 0 {
		dlq = fmt.Sprint(u.DeadLetter)
	}
	left := "not read"
	if u.QueueLeft >= 0 {
		left = fmt.Sprint(u.QueueLeft)
	}
	fmt.Fprintf(w, "  uploads: %d messages awaited (+%d poison), lost %d, send errors %d; variants stored %d of %d; dead-letter queue %s, left in queue %s\n",
		u.Messages, u.Poison, u.Lost, u.SendErrors, u.VariantsStored, u.VariantsExpected, dlq, left)
	fmt.Fprintf(w, "  lag = intended send -> listing that first held the last variant (poll %.0fms); sources %dx%d JPEG %d bytes under %s/%s\n",
		u.PollMs, u.SourceWidth, u.SourceHeight, u.SourceBytes, u.Bucket, u.Prefix)
	if u.ListError != "" {
		fmt.Fprintf(w, "  last listing error: %s\n", u.ListError)
	}
}
