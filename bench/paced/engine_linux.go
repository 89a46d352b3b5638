//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"golang.org/x/sys/unix"
)

// taken is one request given to a connection: its number in the schedule
// and when it was due (an offset from the start of the run).
type taken struct {
	seq int
	due time.Duration
}

type pconn struct {
	fd      int
	queue   []taken // oldest first; queue[0] is in flight when busy
	busy    bool
	sentAt  time.Duration
	unsent  []byte // the rest of a partly written request
	buf     []byte
	polling uint32 // the epoll events asked for
}

type engine struct {
	cfg      config
	ep       int
	start    time.Time
	conns    []*pconn
	byFD     map[int]*pconn
	interval float64 // ns between sends
	res      result
}

// run sends cfg.rate requests a second for cfg.duration, on the calling
// goroutine locked to its OS thread, and waits up to 5 s for the last
// answers.
func run(cfg config) (result, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Nothing on the hot path allocates enough to need the collector: a
	// pause would land in the figures.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)

	addr, err := net.ResolveTCPAddr("tcp4", cfg.addr)
	if err != nil {
		return result{}, err
	}
	e := &engine{cfg: cfg, byFD: map[int]*pconn{}, interval: 1e9 / cfg.rate}
	e.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return result{}, fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(e.ep)
	for range cfg.conns {
		fd, err := dial(addr)
		if err != nil {
			return result{}, err
		}
		defer unix.Close(fd)
		c := &pconn{fd: fd, buf: make([]byte, 0, 64<<10), polling: unix.EPOLLIN}
		if err := unix.EpollCtl(e.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: c.polling, Fd: int32(fd)}); err != nil {
			return result{}, fmt.Errorf("epoll_ctl: %w", err)
		}
		e.conns = append(e.conns, c)
		e.byFD[fd] = c
	}

	total := int(cfg.rate * cfg.duration.Seconds())
	e.res.latencies = make([]time.Duration, 0, total)
	e.res.service = make([]time.Duration, 0, total)
	e.res.statuses = map[int]int{}
	var mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return result{}, err
	}
	e.start = time.Now() // Go's monotonic clock is CLOCK_MONOTONIC too
	monoStart := time.Duration(mono.Nano())
	drainUntil := cfg.duration + 5*time.Second
	events := make([]unix.EpollEvent, 256)
	next, inflight := 0, 0
	// Each tick: take in every answer that has arrived, send every request
	// that has come due, sleep to the next tick. Answers are timed when
	// taken in, so a latency is rounded up by at most a tick; the thread
	// wakes once a tick rather than once an answer.
	for tick := time.Duration(0); ; {
		for {
			n, err := unix.EpollWait(e.ep, events, 0)
			if errors.Is(err, unix.EINTR) {
				continue
			} else if err != nil {
				return result{}, fmt.Errorf("epoll_wait: %w", err)
			}
			now := time.Since(e.start)
			for _, ev := range events[:n] {
				c := e.byFD[int(ev.Fd)]
				if ev.Events&unix.EPOLLOUT != 0 && len(c.unsent) > 0 {
					if err := e.flush(c); err != nil {
						return result{}, err
					}
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
					done, err := e.read(c, now)
					if err != nil {
						return result{}, err
					}
					inflight -= done
				}
			}
			if n < len(events) {
				break
			}
		}
		now := time.Since(e.start)
		for next < total && e.due(next) <= now {
			if err := e.take(next, now); err != nil {
				return result{}, err
			}
			next++
			inflight++
		}
		if next == total && (inflight == 0 || now >= drainUntil) {
			break
		}
		tick = max(tick+cfg.tick, now.Truncate(cfg.tick)+cfg.tick)
		at := unix.NsecToTimespec(int64(monoStart + tick))
		if err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &at, nil); err != nil && !errors.Is(err, unix.EINTR) {
			return result{}, fmt.Errorf("clock_nanosleep: %w", err)
		}
	}
	e.res.elapsed = cfg.duration - cfg.warmup
	for _, c := range e.conns {
		for _, t := range c.queue {
			if t.due >= cfg.warmup {
				e.res.unanswered++
			}
		}
	}
	return e.res, nil
}

func (e *engine) due(seq int) time.Duration { return time.Duration(float64(seq) * e.interval) }

// take gives request seq to its connection, which sends it now if idle.
func (e *engine) take(seq int, now time.Duration) error {
	c := e.conns[seq%len(e.conns)]
	t := taken{seq: seq, due: e.due(seq)}
	if t.due >= e.cfg.warmup {
		e.res.due++
	}
	c.queue = append(c.queue, t)
	if c.busy {
		return nil
	}
	return e.send(c, now)
}

func (e *engine) send(c *pconn, now time.Duration) error {
	t := c.queue[0]
	c.busy, c.sentAt = true, now
	if t.due >= e.cfg.warmup && now-t.due > e.cfg.lateAfter {
		e.res.late++
	}
	c.unsent = e.cfg.requests[t.seq%len(e.cfg.requests)]
	return e.flush(c)
}

// flush writes what is left of the request in flight, waiting for EPOLLOUT
// when the socket is full.
func (e *engine) flush(c *pconn) error {
	for len(c.unsent) > 0 {
		n, err := unix.Write(c.fd, c.unsent)
		if errors.Is(err, unix.EAGAIN) {
			return e.poll(c, unix.EPOLLIN|unix.EPOLLOUT)
		} else if errors.Is(err, unix.EINTR) {
			continue
		} else if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		c.unsent = c.unsent[n:]
	}
	return e.poll(c, unix.EPOLLIN)
}

func (e *engine) poll(c *pconn, events uint32) error {
	if c.polling == events {
		return nil
	}
	c.polling = events
	if err := unix.EpollCtl(e.ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd)}); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// read takes in what the connection has, records each whole answer, sends
// the connection's next request if one is waiting, and returns how many
// answers it read.
func (e *engine) read(c *pconn, now time.Duration) (int, error) {
	n, err := unix.Read(c.fd, c.buf[len(c.buf):cap(c.buf)])
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	} else if n == 0 {
		return 0, errors.New("the server closed a connection")
	}
	c.buf = c.buf[:len(c.buf)+n]
	done := 0
	for {
		status, size, err := parseAnswer(c.buf)
		if errors.Is(err, errIncomplete) {
			if len(c.buf) == cap(c.buf) {
				c.buf = append(c.buf, make([]byte, cap(c.buf))...)[:len(c.buf)]
			}
			return done, nil
		} else if err != nil {
			return done, err
		}
		if !c.busy || len(c.unsent) > 0 {
			return done, errors.New("an answer before its request was sent")
		}
		t := c.queue[0]
		if t.due >= e.cfg.warmup {
			e.res.latencies = append(e.res.latencies, now-t.due)
			e.res.service = append(e.res.service, now-c.sentAt)
			e.res.statuses[status]++
		}
		done++
		c.buf = c.buf[:copy(c.buf, c.buf[size:])]
		c.queue = c.queue[1:]
		c.busy = false
		if len(c.queue) > 0 {
			if err := e.send(c, now); err != nil {
				return done, err
			}
		}
	}
}

func dial(addr *net.TCPAddr) (int, error) {
	ip := addr.IP.To4()
	if ip == nil {
		return -1, fmt.Errorf("%v: IPv4 only", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], ip)
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %v: %w", addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
