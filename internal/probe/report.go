package probe

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

const (
	maxErrorKinds   = 10 // distinct transport error messages kept
	maxVersionKinds = 32 // distinct versions kept
	// OtherKey collects the errors or versions beyond the distinct ones kept.
	OtherKey = "(other)"
)

// Report is the outcome of a Run. Total = ok + Failed; requests cut short
// by the probe stopping are only in Interrupted.
type Report struct {
	URL         string
	Concurrency int
	KeepAlive   bool
	Timeout     time.Duration
	Duration    time.Duration // as asked; 0 = until cancelled
	Start       time.Time
	Elapsed     time.Duration

	Total       int64            // requests counted (ok + failed)
	Failed      int64            // transport errors + non-2xx statuses
	Interrupted int64            // in flight when the probe stopped; not in Total
	Retries     int64            // transparent net/http retries on dead keep-alive connections
	Status      map[int]int64    // status code -> count (responses received in full)
	Errors      map[string]int64 // short transport error -> count (at most 10 + OtherKey)
	Versions    []VersionStat    // by first appearance
	Latency     LatencyStats     // over all counted requests
	Timeline    []Second         // one entry per second since Start
	// LastSlow is when the last request that failed or took longer than
	// Options.SlowOver started (zero: none did, or SlowOver was 0): every
	// request sent after it was answered in time.
	LastSlow time.Time
}

// VersionStat counts the 2xx responses whose body starts with Version.
type VersionStat struct {
	Version   string
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// LatencyStats are latency percentiles. P50 and P99 come from a log-linear
// histogram (about 1.6% resolution); Max is exact.
type LatencyStats struct {
	P50, P99, Max time.Duration
}

// Second is one second of the timeline; requests are attributed to the
// second in which they completed. The last second of a run stopped by
// cancellation is usually partial.
type Second struct {
	Second   int              // index since Start
	Requests int64            // counted requests (ok + failed)
	Failed   int64            //
	Versions map[string]int64 // 2xx responses per version
	P99      time.Duration    // exact p99 latency of the requests of that second
}

// RequestsPerSecond is Total divided by Elapsed.
func (r *Report) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Total) / r.Elapsed.Seconds()
}

// OK reports whether at least one request completed and none failed.
func (r *Report) OK() bool { return r.Total > 0 && r.Failed == 0 }

type collector struct {
	mu          sync.Mutex
	start       time.Time
	maxSecond   int // clamp for second indexes, -1 = none
	total       int64
	failed      int64
	interrupted int64
	retries     int64
	status      map[int]int64
	errors      map[string]int64
	versions    map[string]*VersionStat
	order       []string
	hist        histogram
	max         time.Duration
	timeline    []Second
	curLat      []time.Duration // latencies of the last timeline second
	slowOver    time.Duration   // Options.SlowOver
	lastSlow    time.Time
}

func newCollector(start time.Time, maxSecond int) *collector {
	return &collector{
		start:     start,
		maxSecond: maxSecond,
		status:    map[int]int64{},
		errors:    map[string]int64{},
		versions:  map[string]*VersionStat{},
	}
}

func (c *collector) interrupt() {
	c.mu.Lock()
	c.interrupted++
	c.mu.Unlock()
}

func (c *collector) record(res result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// time.Now under the lock: second indexes never go backwards, so the
	// previous second can be closed as soon as a later one starts.
	now := time.Now()
	sec := int(now.Sub(c.start) / time.Second)
	if c.maxSecond >= 0 && sec > c.maxSecond {
		sec = c.maxSecond
	}
	c.advance(sec)
	b := &c.timeline[len(c.timeline)-1]

	c.total++
	b.Requests++
	c.retries += int64(res.retries)
	if res.failed() {
		c.failed++
		b.Failed++
	}
	if res.err != nil {
		k := shortError(res.err)
		if _, ok := c.errors[k]; !ok && len(c.errors) >= maxErrorKinds {
			k = OtherKey
		}
		c.errors[k]++
	} else {
		c.status[res.status]++
	}
	if v := res.version; v != "" {
		vs := c.versions[v]
		if vs == nil && len(c.versions) >= maxVersionKinds {
			v = OtherKey
			vs = c.versions[v]
		}
		if vs == nil {
			vs = &VersionStat{Version: v, FirstSeen: now}
			c.versions[v] = vs
			c.order = append(c.order, v)
		}
		vs.Count++
		vs.LastSeen = now
		if b.Versions == nil {
			b.Versions = map[string]int64{}
		}
		b.Versions[v]++
	}
	c.hist.add(res.latency)
	c.max = max(c.max, res.latency)
	if c.slowOver > 0 && (res.failed() || res.latency > c.slowOver) {
		if sent := now.Add(-res.latency); sent.After(c.lastSlow) {
			c.lastSlow = sent
		}
	}
	c.curLat = append(c.curLat, res.latency)
}

// advance makes sec the last second of the timeline, closing the previous
// one and adding empty seconds for any gap.
func (c *collector) advance(sec int) {
	if n := len(c.timeline); n > 0 && sec <= n-1 {
		return
	}
	c.closeSecond()
	for i := len(c.timeline); i <= sec; i++ {
		c.timeline = append(c.timeline, Second{Second: i})
	}
}

func (c *collector) closeSecond() {
	if len(c.timeline) == 0 || len(c.curLat) == 0 {
		return
	}
	slices.Sort(c.curLat)
	c.timeline[len(c.timeline)-1].P99 = c.curLat[rank(0.99, len(c.curLat))]
	c.curLat = c.curLat[:0]
}

// report builds the Report; call once, after all workers have stopped.
func (c *collector) report(elapsed time.Duration) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeSecond()
	r := &Report{
		Start:       c.start,
		Elapsed:     elapsed,
		Total:       c.total,
		Failed:      c.failed,
		Interrupted: c.interrupted,
		Retries:     c.retries,
		Status:      c.status,
		Errors:      c.errors,
		Latency: LatencyStats{
			P50: min(c.hist.quantile(0.50), c.max),
			P99: min(c.hist.quantile(0.99), c.max),
			Max: c.max,
		},
		Timeline: c.timeline,
		LastSlow: c.lastSlow,
	}
	for _, v := range c.order {
		r.Versions = append(r.Versions, *c.versions[v])
	}
	return r
}

// rank is the 0-based index of quantile q among n sorted values (nearest rank).
func rank(q float64, n int) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// histogram is a log-linear histogram of durations in nanoseconds: exact
// below 128ns, then 64 buckets per power of two (relative error < 1.6%).
type histogram struct {
	n       int64
	buckets [histBuckets]int64
}

const (
	histSubBits = 7
	histHalf    = 1 << (histSubBits - 1)
	histBuckets = histHalf*(64-histSubBits) + 2*histHalf
)

func histIndex(v int64) int {
	if v < 2*histHalf {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - histSubBits
	return histHalf*e + int(v>>e)
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < 2*histHalf {
		return int64(i)
	}
	e := i/histHalf - 1
	sub := int64(i - histHalf*e)
	lo, hi := sub<<e, (sub+1)<<e-1
	return lo + (hi-lo)/2
}

func (h *histogram) add(d time.Duration) {
	h.n++
	h.buckets[histIndex(int64(d))]++
}

func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	want := int64(rank(q, int(h.n))) + 1
	var seen int64
	for i, c := range h.buckets {
		seen += c
		if seen >= want {
			return time.Duration(histValue(i))
		}
	}
	return 0
}
