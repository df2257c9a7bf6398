// Package probe is a small HTTP load checker used to prove that a deploy
// dropped no request: a fixed number of clients GET one URL in a loop and
// every response is checked and counted, per second and per application
// version (the first word of each 2xx body, e.g. "app@0.0.2").
//
// A request that fails with a transport error or a non-2xx status is a
// failure. A request that is still in flight when the probe itself stops
// (ctx cancelled, Duration elapsed) is cut short by the probe, not by the
// server, so it is counted neither as ok nor as failed (see
// Report.Interrupted).
package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTimeout is the per-request timeout used when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// errorBackoff is how long a client pauses after a transport error, so that
// an unreachable server (connection refused answers in microseconds) does not
// make the probe spin a CPU and count millions of identical failures.
const errorBackoff = 10 * time.Millisecond

// Options configures Run.
type Options struct {
	URL         string        // http:// or https:// URL to GET
	Concurrency int           // number of clients looping in parallel; 0 means 1
	Duration    time.Duration // how long to run; 0 = until ctx is cancelled
	KeepAlive   bool          // reuse connections (false: one new connection per request)
	Timeout     time.Duration // per request, including reading the body; 0 means DefaultTimeout
	// Method is the request's method ("" = GET). net/http retries a request
	// on a dead keep-alive connection only when it is idempotent (GET,
	// HEAD, ...): a POST that meets a connection the server closed fails.
	Method string
	Body   string // sent with each request (with Method POST, say)
	// SlowOver, when set, makes the report keep LastSlow: when traffic had
	// recovered from a fault (a killed replica, say), measured, not read
	// off a per-second chart.
	SlowOver time.Duration
}

// result is the outcome of one request as seen by a client.
type result struct {
	status  int   // HTTP status, 0 when err != nil
	err     error // transport error (dial, write, read header or body, timeout)
	version string
	latency time.Duration
	retries int // transparent retries by net/http on a dead keep-alive connection
}

func (r result) failed() bool { return r.err != nil || r.status < 200 || r.status > 299 }

// Run starts o.Concurrency clients that GET o.URL in a loop until o.Duration
// has elapsed or ctx is cancelled, then returns the report. The error is
// non-nil only for invalid options; failed requests are in the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	// One transport per client: with keep-alive each client holds one
	// connection and reuses it, like Concurrency separate curl loops. (A
	// shared pool hands a freed connection to whichever client waits first,
	// and so dials extra connections at start-up.)
	newClient := func() *http.Client {
		tr := &http.Transport{
			// Deliberately no proxy: the probe must see the app's own behaviour.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			DisableKeepAlives:   !o.KeepAlive,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: o.Timeout,
		}
		return &http.Client{
			Transport: tr,
			// A redirect is a non-2xx answer like any other: report it, don't follow it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}

	var runCtx context.Context
	var cancel context.CancelFunc
	start := time.Now()
	maxSecond := -1
	if o.Duration > 0 {
		runCtx, cancel = context.WithTimeout(ctx, o.Duration)
		// Requests that complete in the instant after the deadline belong to
		// the last second, not to a nearly empty extra one.
		maxSecond = int((o.Duration - 1) / time.Second)
	} else {
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	col := newCollector(start, maxSecond)
	col.slowOver = o.SlowOver
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			client := newClient()
			defer client.CloseIdleConnections()
			worker(runCtx, client, o, col)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := col.report(elapsed)
	r.URL = o.URL
	r.Concurrency = o.Concurrency
	r.KeepAlive = o.KeepAlive
	r.Timeout = o.Timeout
	r.Duration = o.Duration
	return r, nil
}

// Validate reports whether Run would accept o.
func (o Options) Validate() error { return o.normalize() }

// normalize checks o and fills in the defaults.
func (o *Options) normalize() error {
	if o.Concurrency < 0 {
		return fmt.Errorf("probe: concurrency must be >= 1, got %d", o.Concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	if o.Duration < 0 {
		return fmt.Errorf("probe: negative duration %v", o.Duration)
	}
	if o.Timeout < 0 {
		return fmt.Errorf("probe: negative timeout %v", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return fmt.Errorf("probe: bad URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("probe: URL must be http:// or https://HOST[:PORT]/..., got %q", o.URL)
	}
	return nil
}

func worker(ctx context.Context, client *http.Client, o Options, col *collector) {
	for ctx.Err() == nil {
		res := do(ctx, client, o)
		if res.err != nil && ctx.Err() != nil {
			// Cut short by the probe stopping, not by the server.
			col.interrupt()
			return
		}
		col.record(res)
		if res.err != nil {
			t := time.NewTimer(errorBackoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// do performs one request and reads the whole body.
func do(ctx context.Context, client *http.Client, o Options) result {
	reqCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	attempts := 0
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { attempts++ },
	})
	var body io.Reader
	if o.Body != "" {
		body = strings.NewReader(o.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, o.Method, o.URL, body)
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("User-Agent", "zdplay-probe")

	t0 := time.Now()
	resp, err := client.Do(req)
	retries := max(attempts-1, 0)
	if err != nil {
		return result{err: err, latency: time.Since(t0), retries: retries}
	}
	// Always read to EOF: that is what returns a keep-alive connection to
	// the pool, and a body cut in the middle is a failure too.
	var head [256]byte
	n := 0
	for n < len(head) && err == nil {
		var m int
		m, err = resp.Body.Read(head[n:])
		n += m
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	} else if err == io.EOF {
		err = nil
	}
	resp.Body.Close()
	res := result{status: resp.StatusCode, latency: time.Since(t0), retries: retries}
	if err != nil {
		return result{err: err, latency: res.latency, retries: retries}
	}
	if !res.failed() {
		res.version = firstWord(head[:n])
	}
	return res
}

// firstWord returns the first whitespace-separated word of b, made safe for
// text, CSV, JSON and SVG output and capped at 64 bytes.
func firstWord(b []byte) string {
	f := bytes.Fields(b)
	if len(f) == 0 {
		return ""
	}
	w := f[0]
	if len(w) > 64 {
		w = w[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, string(w))
}

// shortError turns a transport error into a short, stable message
// ("connection refused", "EOF", "timeout", ...) suitable as a counter key.
func shortError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var errno syscall.Errno
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
