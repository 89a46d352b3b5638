package uploads

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/loadtest/internal/load"
	"github.com/edgegate/edgegate/loadtest/internal/stats"
)

// MaxCount bounds Config.Count: source keys are numbered in 8 digits.
const MaxCount = 100_000_000

// Causes of a message that failed, in its stats.Result.
const (
	CauseLost      = "lost: variants not all in S3 by the deadline"
	CauseSend      = "send failed"
	CauseCancelled = "cancelled"
)

// Config is one uploads run. Immutable once Run starts.
type Config struct {
	Layout    Layout
	Region    string   // in the events' awsRegion
	Envelopes []string // taken in turn by seq; default [s3]
	Rate      float64  // messages per second, > 0
	Count     int      // messages, 1..MaxCount
	// Deadline is how long after its send a message's variants may take
	// before it counts as lost. Default 30s.
	Deadline time.Duration
	// Poll is the interval between listings of the variant folders.
	// Default 50ms.
	Poll time.Duration
	// PoisonEvery makes every Nth source (seq N-1, 2N-1, …) a corrupt
	// image: its message must end in the dead-letter queue, and its
	// variants are not awaited. 0: none.
	PoisonEvery int
	// DeadLetterURL, when set, is the queue whose message count is
	// reported at the end; with poison sources the run waits up to
	// DeadLetterWait (default 60s) for them to arrive there.
	DeadLetterURL  string
	DeadLetterWait time.Duration
	// Source is the image every source is a copy of (under its own key).
	Source []byte
	// UploadConcurrency is how many sources are put at once before the
	// messages are sent. Default 8.
	UploadConcurrency int
	// MaxInFlight bounds messages awaited at once (the open loop's
	// workers). Default 4096.
	MaxInFlight int
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("uploads: "+format, a...)) }
	if len(c.Envelopes) == 0 {
		c.Envelopes = []string{EnvelopeS3}
	}
	for _, e := range c.Envelopes {
		if _, err := Body(e, Object{}); err != nil {
			bad("envelope %q: want s3, sns or eventbridge", e)
		}
	}
	if !(c.Rate > 0) {
		bad("rate must be > 0")
	}
	if c.Count < 1 || c.Count >= MaxCount {
		bad("count %d: want 1 to %d", c.Count, MaxCount-1)
	}
	if len(c.Layout.Folders) == 0 {
		bad("no presets")
	}
	if c.Deadline == 0 {
		c.Deadline = 30 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = 50 * time.Millisecond
	}
	if c.Deadline < 0 || c.Poll < time.Millisecond {
		bad("deadline must be > 0 and poll at least 1ms")
	}
	if c.PoisonEvery < 0 {
		bad("poison-every must be >= 0")
	}
	if c.DeadLetterWait == 0 {
		c.DeadLetterWait = 60 * time.Second
	}
	if len(c.Source) == 0 {
		bad("no source image")
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = 8
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 4096
	}
	return errors.Join(errs...)
}

// poison is what a poison source holds: a JPEG header and no image.
var poison = []byte("\xff\xd8\xff\xe0 loadtest poison: this is no JPEG")

func (c *Config) isPoison(seq uint64) bool {
	return c.PoisonEvery > 0 && seq%uint64(c.PoisonEvery) == uint64(c.PoisonEvery-1)
}

// Outcome is one message's result as Run reports it to OnResult.
type Outcome struct {
	Seq      uint64
	Intended time.Time
	Result   stats.Result // Name is the envelope; Latency from the intended send to the last variant seen
}

// Summary is a finished run.
type Summary struct {
	Schedule load.Accounting
	// ByEnvelope holds the awaited (not poison) messages' results.
	ByEnvelope map[string]*stats.Stats
	Sources    int // awaited messages sent
	Poison     int // poison messages sent
	Lost       int // awaited messages whose variants were not all seen by the deadline
	SendErrors int
	// VariantsExpected and VariantsStored count the awaited sources'
	// variants, listed after the run.
	VariantsExpected, VariantsStored int
	// DeadLetter is the dead-letter queue's message count at the end
	// (-1: no DeadLetterURL or not readable); QueueLeft the queue's.
	DeadLetter, QueueLeft int
	UploadS               float64       // time spent putting the sources
	Lists                 uint64        // listings made by the watcher
	ListError             string        // the last failed listing's error
	Elapsed               time.Duration // from the first send to the last message's end
}

// Run puts the sources, then sends one message per source at c.Rate and
// waits for each one's variants; onResult (optional) is called for each
// message as it ends; progress (optional) gets a line a second.
func Run(ctx context.Context, c Config, bucket S3, queue Queue, deadLetter Queue, onResult func(Outcome), progress io.Writer) (*Summary, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	sum := &Summary{ByEnvelope: map[string]*stats.Stats{}, DeadLetter: -1, QueueLeft: -1}
	for _, e := range c.Envelopes {
		sum.ByEnvelope[e] = stats.New()
	}
	etags, err := putSources(ctx, c, bucket, progress)
	if err != nil {
		return nil, err
	}
	sum.UploadS = etags.took.Seconds()

	w := NewWatcher(bucket, c.Layout)
	wctx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { w.Run(wctx, c.Poll) })

	var (
		mu                   sync.Mutex
		sent, done, lost     atomic.Int64
		interval             = stats.New()
		start                = time.Now()
		poisonSent, sendErrs atomic.Int64
	)
	record := func(o Outcome) {
		mu.Lock()
		sum.ByEnvelope[o.Result.Name].Record(o.Result)
		interval.Record(o.Result)
		mu.Unlock()
		if onResult != nil {
			onResult(o)
		}
	}
	do := func(jctx context.Context, j load.Job) {
		if j.Seq >= uint64(c.Count) {
			return
		}
		env := c.Envelopes[j.Seq%uint64(len(c.Envelopes))]
		key := c.Layout.Source(j.Seq)
		body, err := Body(env, Object{Region: c.Region, Bucket: bucket.Bucket, Key: key, ETag: etags.etag[j.Seq],
			Size: etags.size[j.Seq], Time: time.Now(), Sequencer: fmt.Sprintf("%016X", start.UnixNano()+int64(j.Seq))})
		if err != nil { // envelopes were validated: cannot happen
			sendErrs.Add(1)
			return
		}
		if c.isPoison(j.Seq) {
			if err := queue.Send(jctx, body); err != nil {
				sendErrs.Add(1)
			}
			poisonSent.Add(1)
			return
		}
		p := w.Watch(j.Seq) // before the send: a fast gateway must not be missed
		sentAt := time.Now()
		err = queue.Send(jctx, body)
		sent.Add(1)
		res := stats.Result{Name: env}
		if err != nil {
			w.Forget(p)
			sendErrs.Add(1)
			res.Cause, res.Latency, res.Service = CauseSend, time.Since(j.Intended), time.Since(sentAt)
			record(Outcome{Seq: j.Seq, Intended: j.Intended, Result: res})
			return
		}
		t := time.NewTimer(c.Deadline)
		defer t.Stop()
		select {
		case <-p.Done():
			at, _ := w.Seen(p)
			res.Status, res.Latency, res.Service = 200, at.Sub(j.Intended), at.Sub(sentAt)
			done.Add(1)
		case <-t.C:
			w.Forget(p)
			res.Cause, res.Latency, res.Service = CauseLost, time.Since(j.Intended), time.Since(sentAt)
			lost.Add(1)
		case <-jctx.Done():
			w.Forget(p)
			res.Cause, res.Latency, res.Service = CauseCancelled, time.Since(j.Intended), time.Since(sentAt)
		}
		record(Outcome{Seq: j.Seq, Intended: j.Intended, Result: res})
	}

	progCtx, stopProgress := context.WithCancel(ctx)
	var progressing sync.WaitGroup
	if progress != nil {
		progressing.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-progCtx.Done():
					return
				case <-tick.C:
				}
				mu.Lock()
				p := stats.PercentilesOf(interval.Latency)
				interval = stats.New()
				mu.Unlock()
				s, d, l := sent.Load(), done.Load(), lost.Load()
				fmt.Fprintf(progress, "[%4.0fs] sent %d (poison %d) done %d lost %d awaited %d | last 1s lag: p50 %.0fms p99 %.0fms max %.0fms\n",
					time.Since(start).Seconds(), s, poisonSent.Load(), d, l, s-d-l, p.P50, p.P99, p.Max)
			}
		})
	}
	// Half a period more than count/rate: the open loop sends
	// floor(rate*duration) messages, exactly Count.
	dur := time.Duration((float64(c.Count) + 0.5) / c.Rate * float64(time.Second))
	sum.Schedule, err = load.OpenLoop(ctx, load.OpenLoopConfig{Rate: c.Rate, Duration: dur, MaxInFlight: c.MaxInFlight}, do, nil)
	sum.Elapsed = time.Since(start)
	stopProgress()
	progressing.Wait()
	stopWatch()
	watching.Wait()
	if err != nil {
		return nil, err
	}
	sum.Sources, sum.Poison, sum.Lost, sum.SendErrors = int(sent.Load()), int(poisonSent.Load()), int(lost.Load()), int(sendErrs.Load())
	sum.Lists, _ = w.Lists()
	if _, lerr := w.Lists(); lerr != nil {
		sum.ListError = lerr.Error()
	}

	// After the run: what is stored, what is left in the queues.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.DeadLetterWait+time.Minute)
	defer cancel()
	for seq := range uint64(c.Count) {
		if !c.isPoison(seq) {
			sum.VariantsExpected += len(c.Layout.Folders)
		}
	}
	if n, err := Count(actx, bucket, c.Layout, uint64(c.Count)); err == nil {
		sum.VariantsStored = n
	} else {
		sum.ListError = err.Error()
	}
	if c.DeadLetterURL != "" {
		until := time.Now().Add(c.DeadLetterWait)
		for {
			n, err := deadLetter.Messages(actx, c.DeadLetterURL)
			if err == nil {
				sum.DeadLetter = n
			}
			if err != nil || n >= sum.Poison || time.Now().After(until) || ctx.Err() != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if n, err := queue.Messages(actx, queue.URL); err == nil {
		sum.QueueLeft = n
	}
	return sum, nil
}

type sources struct {
	etag []string
	size []int64
	took time.Duration
}

// putSources puts every source (copies of c.Source, poison ones corrupt)
// with c.UploadConcurrency puts at once.
func putSources(ctx context.Context, c Config, bucket S3, progress io.Writer) (*sources, error) {
	start := time.Now()
	s := &sources{etag: make([]string, c.Count), size: make([]int64, c.Count)}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range c.UploadConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(c.Count) || ctx.Err() != nil {
					return
				}
				body := c.Source
				if c.isPoison(uint64(i)) {
					body = poison
				}
				etag, err := bucket.Put(ctx, c.Layout.Source(uint64(i)), body, "image/jpeg")
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				s.etag[i], s.size[i] = etag, int64(len(body))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("uploads: putting sources: %w", err)
	}
	s.took = time.Since(start)
	if progress != nil {
		fmt.Fprintf(progress, "uploads: put %d sources of %s bytes in %.1fs\n", c.Count, strconv.Itoa(len(c.Source)), s.took.Seconds())
	}
	return s, nil
}
