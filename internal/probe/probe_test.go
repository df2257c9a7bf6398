package probe

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const runFor = 300 * time.Millisecond

// newServer starts an httptest server on 127.0.0.1 and counts the TCP
// connections it accepts.
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on loopback: %s", s.URL)
	}
	return s, &conns
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	r, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	return r
}

// checkInvariants checks what must hold for every report.
func checkInvariants(t *testing.T, r *Report) {
	t.Helper()
	var st, er, tr, tf int64
	for _, n := range r.Status {
		st += n
	}
	for _, n := range r.Errors {
		er += n
	}
	if st+er != r.Total {
		t.Errorf("status %d + errors %d != total %d", st, er, r.Total)
	}
	for i, s := range r.Timeline {
		if s.Second != i {
			t.Errorf("timeline[%d].Second = %d", i, s.Second)
		}
		tr += s.Requests
		tf += s.Failed
	}
	if tr != r.Total || tf != r.Failed {
		t.Errorf("timeline sums %d/%d, report %d/%d", tr, tf, r.Total, r.Failed)
	}
	if len(r.Errors) > maxErrorKinds+1 {
		t.Errorf("%d error kinds kept", len(r.Errors))
	}
	if r.Total > 0 && !(r.Latency.P50 <= r.Latency.P99 && r.Latency.P99 <= r.Latency.Max && r.Latency.Max > 0) {
		t.Errorf("bad latency stats %+v", r.Latency)
	}
}

func TestCountsAndVersion(t *testing.T) {
	var served atomic.Int64
	s, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		fmt.Fprint(w, "app@0.0.1 hello world\n")
	})
	r := run(t, Options{URL: s.URL, Concurrency: 4, Duration: runFor, KeepAlive: true})
	if r.Total < 10 || r.Failed != 0 {
		t.Fatalf("total %d failed %d", r.Total, r.Failed)
	}
	if r.Status[200] != r.Total {
		t.Errorf("status %v, total %d", r.Status, r.Total)
	}
	if len(r.Versions) != 1 || r.Versions[0].Version != "app@0.0.1" || r.Versions[0].Count != r.Total {
		t.Errorf("versions %+v", r.Versions)
	}
	if got := served.Load(); got < r.Total {
		t.Errorf("server served %d < counted %d", got, r.Total)
	}
	if r.Elapsed < runFor || r.Elapsed > runFor+time.Second {
		t.Errorf("elapsed %v", r.Elapsed)
	}
	if len(r.Timeline) != 1 {
		t.Errorf("timeline has %d seconds for a %v run", len(r.Timeline), runFor)
	}
	if !r.OK() {
		t.Error("not OK")
	}
	var b bytes.Buffer
	r.WriteText(&b)
	for _, want := range []string{"4 clients, keep-alive on", "status    200=", "versions  app@0.0.1=", "verdict: OK, no request failed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestVersionSwitch(t *testing.T) {
	var n atomic.Int64
	s, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 20 {
			fmt.Fprint(w, "app@0.0.1\n")
		} else {
			fmt.Fprint(w, "  app@0.0.2 ok")
		}
	})
	r := run(t, Options{URL: s.URL, Concurrency: 1, Duration: runFor, KeepAlive: true})
	if len(r.Versions) != 2 {
		t.Fatalf("versions %+v", r.Versions)
	}
	v1, v2 := r.Versions[0], r.Versions[1]
	if v1.Version != "app@0.0.1" || v1.Count != 20 || v2.Version != "app@0.0.2" || v1.Count+v2.Count != r.Total {
		t.Errorf("versions %+v total %d", r.Versions, r.Total)
	}
	if v1.LastSeen.After(v2.FirstSeen) || v1.FirstSeen.After(v1.LastSeen) || v2.FirstSeen.After(v2.LastSeen) {
		t.Errorf("first/last seen out of order: %+v", r.Versions)
	}
	if got := r.Timeline[0].Versions; got["app@0.0.1"] != 20 {
		t.Errorf("timeline versions %v", got)
	}
}

func TestServerErrorsAreFailures(t *testing.T) {
	var n, served500 atomic.Int64
	s, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			served500.Add(1)
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "app@1 ok")
	})
	r := run(t, Options{URL: s.URL, Concurrency: 4, Duration: runFor, KeepAlive: true})
	if r.Failed == 0 || r.Failed != r.Status[500] || r.Status[200]+r.Status[500] != r.Total {
		t.Fatalf("failed %d status %v total %d", r.Failed, r.Status, r.Total)
	}
	if s := served500.Load(); r.Failed > s || r.Failed < s-4 {
		t.Errorf("failed %d, server sent %d errors", r.Failed, s)
	}
	if len(r.Errors) != 0 {
		t.Errorf("transport errors %v", r.Errors)
	}
	if len(r.Versions) != 1 || r.Versions[0].Count != r.Status[200] {
		t.Errorf("versions %+v (500 bodies must not count)", r.Versions)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if want := fmt.Sprintf("verdict: FAILED: %d of %d requests failed", r.Failed, r.Total); !strings.Contains(b.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, b.String())
	}
}

// closeEverySecond hijacks every second request and closes the connection
// without answering.
func closeEverySecond(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
			return
		}
		fmt.Fprint(w, "app@1")
	})
}

func TestClosedConnectionsAreTransportErrors(t *testing.T) {
	s, _ := closeEverySecond(t)
	r := run(t, Options{URL: s.URL, Concurrency: 4, Duration: runFor, KeepAlive: false})
	if r.Failed == 0 || r.Errors["EOF"] != r.Failed || len(r.Status) != 1 || r.Status[200] == 0 {
		t.Fatalf("failed %d errors %v status %v", r.Failed, r.Errors, r.Status)
	}
	if r.Retries != 0 {
		t.Errorf("retries %d without keep-alive", r.Retries)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "errors    EOF=") {
		t.Errorf("text:\n%s", b.String())
	}
}

// With keep-alive, net/http retries a GET once on a fresh connection when
// a reused one is closed before any response byte; those are reported as
// Retries, and the retried request may still succeed.
func TestClosedKeepAliveConnectionsAreRetried(t *testing.T) {
	s, _ := closeEverySecond(t)
	r := run(t, Options{URL: s.URL, Concurrency: 1, Duration: runFor, KeepAlive: true})
	if r.Retries == 0 || r.Total == 0 {
		t.Fatalf("retries %d total %d errors %v", r.Retries, r.Total, r.Errors)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := run(t, Options{URL: "http://" + addr + "/", Concurrency: 2, Duration: runFor, KeepAlive: true})
	if r.Failed == 0 || r.Failed != r.Total || r.Errors["connection refused"] != r.Failed {
		t.Fatalf("failed %d total %d errors %v", r.Failed, r.Total, r.Errors)
	}
	// The back-off after a transport error keeps this to ~30 per client.
	if limit := int64(2 * (runFor / errorBackoff) * 2); r.Total > limit {
		t.Errorf("%d requests against a closed port, want <= %d", r.Total, limit)
	}
}

func TestKeepAliveConnections(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app@1") }
	t.Run("off", func(t *testing.T) {
		s, conns := newServer(t, h)
		r := run(t, Options{URL: s.URL, Concurrency: 4, Duration: runFor, KeepAlive: false})
		if r.Total < 10 || conns.Load() < r.Total {
			t.Errorf("%d connections for %d requests without keep-alive", conns.Load(), r.Total)
		}
	})
	t.Run("on", func(t *testing.T) {
		s, conns := newServer(t, h)
		r := run(t, Options{URL: s.URL, Concurrency: 4, Duration: runFor, KeepAlive: true})
		// Normally exactly one connection per client; under heavy CPU load
		// net/http occasionally declines to reuse one (writer goroutine late,
		// see persistConn.wroteRequest) and dials a replacement.
		if got := conns.Load(); r.Total < 50 || got < 4 || got > r.Total/10 {
			t.Errorf("%d connections for %d requests with keep-alive and 4 clients", conns.Load(), r.Total)
		}
	})
}

// slowServer answers after d, or gives up when the client goes away.
func slowServer(t *testing.T, d time.Duration) *httptest.Server {
	s, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			fmt.Fprint(w, "app@slow")
		case <-r.Context().Done():
		}
	})
	return s
}

func TestStoppingDoesNotCountCutShortRequests(t *testing.T) {
	for _, ka := range []bool{true, false} {
		t.Run(fmt.Sprintf("cancel/keepalive=%v", ka), func(t *testing.T) {
			s := slowServer(t, 200*time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			r, err := Run(ctx, Options{URL: s.URL, Concurrency: 4, KeepAlive: ka})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, r)
			// First round (t=200ms) counted, second round (due t=400ms) cut short.
			if r.Failed != 0 || len(r.Errors) != 0 || r.Total != 4 || r.Interrupted != 4 {
				t.Errorf("total %d failed %d interrupted %d errors %v", r.Total, r.Failed, r.Interrupted, r.Errors)
			}
		})
		t.Run(fmt.Sprintf("duration/keepalive=%v", ka), func(t *testing.T) {
			s := slowServer(t, 200*time.Millisecond)
			r := run(t, Options{URL: s.URL, Concurrency: 4, KeepAlive: ka, Duration: 300 * time.Millisecond})
			if r.Failed != 0 || len(r.Errors) != 0 || r.Total != 4 || r.Interrupted != 4 {
				t.Errorf("total %d failed %d interrupted %d errors %v", r.Total, r.Failed, r.Interrupted, r.Errors)
			}
		})
	}
	t.Run("already cancelled", func(t *testing.T) {
		s := slowServer(t, time.Millisecond)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r, err := Run(ctx, Options{URL: s.URL, Concurrency: 4})
		if err != nil || r.Total != 0 || r.Failed != 0 || r.OK() {
			t.Errorf("err %v total %d failed %d", err, r.Total, r.Failed)
		}
		var b bytes.Buffer
		r.WriteText(&b)
		if !strings.Contains(b.String(), "verdict: FAILED: no request completed") {
			t.Errorf("text:\n%s", b.String())
		}
	})
}

func TestRequestTimeoutIsAFailure(t *testing.T) {
	s := slowServer(t, time.Second)
	r := run(t, Options{URL: s.URL, Concurrency: 2, KeepAlive: true, Timeout: 100 * time.Millisecond, Duration: 350 * time.Millisecond})
	// Rounds time out at ~100ms and ~210ms (after the 10ms back-off); the third is cut short.
	if r.Failed < 2 || r.Failed != r.Total || r.Errors["timeout"] != r.Failed {
		t.Errorf("total %d failed %d errors %v", r.Total, r.Failed, r.Errors)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: ""},
		{URL: "ftp://127.0.0.1/"},
		{URL: "127.0.0.1:8000"},
		{URL: "http://127.0.0.1/", Concurrency: -1},
		{URL: "http://127.0.0.1/", Duration: -time.Second},
		{URL: "http://127.0.0.1/", Timeout: -time.Second},
	} {
		if _, err := Run(t.Context(), o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

// sampleReport has two versions (one with characters to escape), failures,
// and a gap second.
func sampleReport() *Report {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &Report{
		URL: "http://127.0.0.1:8000/?a=1&b=<2>", Concurrency: 40, KeepAlive: true, Timeout: DefaultTimeout,
		Start: start, Elapsed: 3500 * time.Millisecond,
		Total: 60, Failed: 3, Interrupted: 40,
		Status: map[int]int64{200: 57, 502: 1}, Errors: map[string]int64{"connection refused": 2},
		Versions: []VersionStat{
			{Version: "app@0.0.1", Count: 30, FirstSeen: start, LastSeen: start.Add(1500 * time.Millisecond)},
			{Version: `v"2"<&>`, Count: 27, FirstSeen: start.Add(1400 * time.Millisecond), LastSeen: start.Add(3400 * time.Millisecond)},
		},
		Latency: LatencyStats{P50: 800 * time.Microsecond, P99: 4100 * time.Microsecond, Max: 120 * time.Millisecond},
		Timeline: []Second{
			{Second: 0, Requests: 20, Versions: map[string]int64{"app@0.0.1": 20}, P99: time.Millisecond},
			{Second: 1, Requests: 25, Failed: 3, Versions: map[string]int64{"app@0.0.1": 10, `v"2"<&>`: 12}, P99: 5 * time.Millisecond},
			{Second: 2},
			{Second: 3, Requests: 15, Versions: map[string]int64{`v"2"<&>`: 15}, P99: 2 * time.Millisecond},
		},
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"second", "requests", "failed", "p99_ms", "app@0.0.1", `v"2"<&>`},
		{"0", "20", "0", "1.000", "20", "0"},
		{"1", "25", "3", "5.000", "10", "12"},
		{"2", "0", "0", "0.000", "0", "0"},
		{"3", "15", "0", "2.000", "0", "15"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("csv\n got %q\nwant %q", rows, want)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var j jsonReport
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatal(err)
	}
	if j.Total != 60 || j.Failed != 3 || j.OK || j.Status["502"] != 1 || j.Errors["connection refused"] != 2 ||
		len(j.Versions) != 2 || j.Versions[1].FirstS != 1.4 || len(j.Timeline) != 4 || j.Timeline[1].P99Ms != 5 ||
		j.LatencyMs.P50 != 0.8 || j.ElapsedS != 3.5 || j.Verdict != "FAILED: 3 of 60 requests failed" {
		t.Errorf("json decoded to %+v", j)
	}
}

func TestWriteSVG(t *testing.T) {
	for name, r := range map[string]*Report{"sample": sampleReport(), "empty": {URL: "http://127.0.0.1/"}} {
		var b bytes.Buffer
		if err := r.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&b)
		var root string
		lines := 0
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: malformed SVG: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				if root == "" {
					root = se.Name.Local
				}
				if se.Name.Local == "polyline" {
					lines++
				}
			}
		}
		if root != "svg" {
			t.Errorf("%s: root element %q", name, root)
		}
		if want := map[string]int{"sample": 4, "empty": 0}[name]; lines != want {
			t.Errorf("%s: %d lines, want %d", name, lines, want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Microsecond, 0.99: 990 * time.Microsecond} {
		got := h.quantile(q)
		if d := float64(got-want) / float64(want); d < -0.02 || d > 0.02 {
			t.Errorf("q%v = %v, want ~%v", q, got, want)
		}
	}
	for _, v := range []int64{0, 1, 127, 128, 129, 1000, 1 << 20, 1<<40 + 12345, 1 << 62} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index %d out of range for %d", i, v)
		}
		if got := histValue(i); float64(got) < float64(v)*0.98 || float64(got) > float64(v)*1.02 {
			t.Errorf("value(index(%d)) = %d", v, got)
		}
	}
}

func TestFirstWordAndShortError(t *testing.T) {
	for in, want := range map[string]string{
		"app@0.0.1 hi":             "app@0.0.1",
		"\n\t app@0.0.2\n":         "app@0.0.2",
		"":                         "",
		"   ":                      "",
		"a\x00b c":                 "a?b",
		strings.Repeat("x", 100):   strings.Repeat("x", 64),
		"<!DOCTYPE html><html>...": "<!DOCTYPE",
	} {
		if got := firstWord([]byte(in)); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", in, got, want)
		}
	}
	if got := shortError(context.DeadlineExceeded); got != "timeout" {
		t.Errorf("shortError(deadline) = %q", got)
	}
	if got := shortError(errors.New(strings.Repeat("y", 200))); len(got) != 80 {
		t.Errorf("long error kept %d bytes", len(got))
	}
}

func TestErrorKindsAreCapped(t *testing.T) {
	c := newCollector(time.Now(), -1)
	for i := range 25 {
		c.record(result{err: fmt.Errorf("error %d", i)})
	}
	r := c.report(time.Second)
	if len(r.Errors) != maxErrorKinds+1 || r.Errors[OtherKey] != 15 || r.Failed != 25 {
		t.Errorf("errors %v failed %d", r.Errors, r.Failed)
	}
}

func TestMethodAndBody(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Method+" "+string(b)]++
		mu.Unlock()
		fmt.Fprintln(w, "app@1")
	}))
	defer srv.Close()
	r, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 2, KeepAlive: true, Duration: 200 * time.Millisecond, Method: http.MethodPost, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if r.Failed != 0 || len(seen) != 1 || seen["POST x"] == 0 {
		t.Fatalf("failed %d, requests seen %v, want only POST x", r.Failed, seen)
	}
}

// LastSlow is when the last slow request was sent: a server slow until a
// moment and fast afterwards gives that moment, and no slow request at
// all gives none.
func TestLastSlowIsWhenTrafficRecovered(t *testing.T) {
	recovered := time.Now().Add(150 * time.Millisecond)
	s, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(recovered) {
			time.Sleep(60 * time.Millisecond)
		}
		fmt.Fprintln(w, "app@1")
	})
	r := run(t, Options{URL: s.URL, Concurrency: 4, KeepAlive: true, Duration: 400 * time.Millisecond, SlowOver: 40 * time.Millisecond})
	if r.LastSlow.IsZero() || r.LastSlow.After(recovered) || recovered.Sub(r.LastSlow) > 100*time.Millisecond {
		t.Errorf("LastSlow = %s after recovery at %s (%v)", r.LastSlow.Format("15:04:05.000"), recovered.Format("15:04:05.000"), recovered.Sub(r.LastSlow))
	}
	if r := run(t, Options{URL: s.URL, Concurrency: 2, Duration: 100 * time.Millisecond, SlowOver: 40 * time.Millisecond}); !r.LastSlow.IsZero() {
		t.Errorf("a fast server gave LastSlow %s", r.LastSlow)
	}
}
