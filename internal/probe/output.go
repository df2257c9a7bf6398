package probe

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteText writes a short human summary ending with a verdict line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	ka := "on"
	if !r.KeepAlive {
		ka = "off"
	}
	fmt.Fprintf(&b, "probe %s for %.1fs, %d clients, keep-alive %s\n", r.URL, r.Elapsed.Seconds(), r.Concurrency, ka)
	fmt.Fprintf(&b, "  requests  %d (%.0f/s)   failed %d\n", r.Total, r.RequestsPerSecond(), r.Failed)
	if len(r.Status) > 0 {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(r.Status)) {
			parts = append(parts, fmt.Sprintf("%d=%d", code, r.Status[code]))
		}
		fmt.Fprintf(&b, "  status    %s\n", strings.Join(parts, " "))
	}
	if len(r.Errors) > 0 {
		keys := slices.SortedFunc(maps.Keys(r.Errors), func(a, b string) int {
			return cmp.Or(cmp.Compare(r.Errors[b], r.Errors[a]), strings.Compare(a, b))
		})
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.Errors[k]))
		}
		fmt.Fprintf(&b, "  errors    %s\n", strings.Join(parts, ", "))
	}
	if len(r.Versions) > 0 {
		var parts []string
		for _, v := range r.Versions {
			s := fmt.Sprintf("%s=%d", v.Version, v.Count)
			if len(r.Versions) > 1 {
				s += fmt.Sprintf(" (%.1fs-%.1fs)", v.FirstSeen.Sub(r.Start).Seconds(), v.LastSeen.Sub(r.Start).Seconds())
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(&b, "  versions  %s\n", strings.Join(parts, "  "))
	}
	if r.Total > 0 {
		fmt.Fprintf(&b, "  latency   p50 %s  p99 %s  max %s\n", fmtLatency(r.Latency.P50), fmtLatency(r.Latency.P99), fmtLatency(r.Latency.Max))
	}
	if r.Retries > 0 {
		fmt.Fprintf(&b, "  retries   %d (dead keep-alive connection, retried transparently by the client)\n", r.Retries)
	}
	b.WriteString("verdict: " + r.verdict() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) verdict() string {
	switch {
	case r.Failed > 0:
		return fmt.Sprintf("FAILED: %d of %d requests failed", r.Failed, r.Total)
	case r.Total == 0:
		return "FAILED: no request completed"
	default:
		return "OK, no request failed"
	}
}

func fmtLatency(d time.Duration) string {
	switch {
	case d < 100*time.Microsecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms(d))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", ms(d))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round3 keeps JSON numbers short.
func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}

type jsonVersion struct {
	Version   string    `json:"version"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	FirstS    float64   `json:"first_s"` // seconds since start
	LastS     float64   `json:"last_s"`
}

type jsonSecond struct {
	Second   int              `json:"second"`
	Requests int64            `json:"requests"`
	Failed   int64            `json:"failed"`
	P99Ms    float64          `json:"p99_ms"`
	Versions map[string]int64 `json:"versions"`
}

type jsonReport struct {
	URL         string           `json:"url"`
	Concurrency int              `json:"concurrency"`
	KeepAlive   bool             `json:"keepalive"`
	TimeoutS    float64          `json:"timeout_s"`
	DurationS   float64          `json:"duration_s"`
	Start       time.Time        `json:"start"`
	ElapsedS    float64          `json:"elapsed_s"`
	Total       int64            `json:"total"`
	Failed      int64            `json:"failed"`
	Interrupted int64            `json:"interrupted"`
	Retries     int64            `json:"retries"`
	RatePerS    float64          `json:"rate_per_s"`
	Status      map[string]int64 `json:"status"`
	Errors      map[string]int64 `json:"errors"`
	Versions    []jsonVersion    `json:"versions"`
	LatencyMs   struct {
		P50 float64 `json:"p50"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	Timeline []jsonSecond `json:"timeline"`
	OK       bool         `json:"ok"`
	Verdict  string       `json:"verdict"`
}

// WriteJSON writes the whole report, timeline included, as indented JSON.
// Durations are in seconds (_s) or milliseconds (_ms).
func (r *Report) WriteJSON(w io.Writer) error {
	j := jsonReport{
		URL:         r.URL,
		Concurrency: r.Concurrency,
		KeepAlive:   r.KeepAlive,
		TimeoutS:    r.Timeout.Seconds(),
		DurationS:   r.Duration.Seconds(),
		Start:       r.Start,
		ElapsedS:    round3(r.Elapsed.Seconds()),
		Total:       r.Total,
		Failed:      r.Failed,
		Interrupted: r.Interrupted,
		Retries:     r.Retries,
		RatePerS:    round3(r.RequestsPerSecond()),
		Status:      map[string]int64{},
		Errors:      map[string]int64{},
		Versions:    []jsonVersion{},
		Timeline:    []jsonSecond{},
		OK:          r.OK(),
		Verdict:     r.verdict(),
	}
	for code, n := range r.Status {
		j.Status[strconv.Itoa(code)] = n
	}
	maps.Copy(j.Errors, r.Errors)
	for _, v := range r.Versions {
		j.Versions = append(j.Versions, jsonVersion{
			Version: v.Version, Count: v.Count, FirstSeen: v.FirstSeen, LastSeen: v.LastSeen,
			FirstS: round3(v.FirstSeen.Sub(r.Start).Seconds()), LastS: round3(v.LastSeen.Sub(r.Start).Seconds()),
		})
	}
	j.LatencyMs.P50 = round3(ms(r.Latency.P50))
	j.LatencyMs.P99 = round3(ms(r.Latency.P99))
	j.LatencyMs.Max = round3(ms(r.Latency.Max))
	for _, s := range r.Timeline {
		v := s.Versions
		if v == nil {
			v = map[string]int64{}
		}
		j.Timeline = append(j.Timeline, jsonSecond{s.Second, s.Requests, s.Failed, round3(ms(s.P99)), v})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// WriteCSV writes the timeline: second,requests,failed,p99_ms, then one
// column per version (in order of first appearance).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"second", "requests", "failed", "p99_ms"}
	for _, v := range r.Versions {
		header = append(header, v.Version)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, s := range r.Timeline {
		row := []string{
			strconv.Itoa(s.Second),
			strconv.FormatInt(s.Requests, 10),
			strconv.FormatInt(s.Failed, 10),
			strconv.FormatFloat(ms(s.P99), 'f', 3, 64),
		}
		for _, v := range r.Versions {
			row = append(row, strconv.FormatInt(s.Versions[v.Version], 10))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
