package probe

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// versionColors never contains red, which is kept for failures.
var versionColors = []string{"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22"}

// WriteSVG writes a self-contained SVG line chart of the timeline: requests
// per second in total (grey, dashed) and per version (coloured), and
// failures per second (red).
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width, height            = 900, 420
		left, right, top, bottom = 70, 200, 40, 50
		pw, ph                   = width - left - right, height - top - bottom
	)
	n := len(r.Timeline)
	type series struct {
		label, color, dash string
		values             []float64
	}
	var all []series
	total := series{label: fmt.Sprintf("all requests (%d)", r.Total), color: "#999999", dash: "6,4"}
	failed := series{label: fmt.Sprintf("failed (%d)", r.Failed), color: "#d62728"}
	for _, s := range r.Timeline {
		total.values = append(total.values, float64(s.Requests))
		failed.values = append(failed.values, float64(s.Failed))
	}
	all = append(all, total)
	for i, v := range r.Versions {
		s := series{label: fmt.Sprintf("%s (%d)", v.Version, v.Count), color: versionColors[i%len(versionColors)]}
		for _, sec := range r.Timeline {
			s.values = append(s.values, float64(sec.Versions[v.Version]))
		}
		all = append(all, s)
	}
	all = append(all, failed)

	ymax := 5.0 // keeps Y ticks whole numbers
	for _, s := range all {
		for _, v := range s.values {
			ymax = math.Max(ymax, v)
		}
	}
	ystep := niceStep(ymax / 5)
	ymax = math.Ceil(ymax/ystep) * ystep
	xmax := float64(max(n, 1))
	xstep := math.Max(1, niceStep(xmax/10))
	px := func(x float64) float64 { return left + x/xmax*pw }
	py := func(y float64) float64 { return top + ph - y/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n",
		left, html.EscapeString(fmt.Sprintf("probe %s: %s", r.URL, r.verdict())))

	// Grid and Y axis ticks.
	for i := 0; float64(i)*ystep <= ymax+ystep/2; i++ {
		y := float64(i) * ystep
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, py(y), left+pw, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, fmtTick(y))
	}
	// X axis ticks.
	for i := 0; float64(i)*xstep <= xmax+1e-9; i++ {
		x := float64(i) * xstep
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", px(x), top+ph, px(x), top+ph+5)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x), top+ph+18, fmtTick(x))
	}
	// Axes and their labels.
	fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" fill="none" stroke="black"/>`+"\n", left, top, top+ph, left+pw)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since start</text>`+"\n", left+pw/2, height-10)
	fmt.Fprintf(&b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">requests per second</text>`+"\n", top+ph/2, top+ph/2)

	// Series: each second's value is drawn in the middle of its second, and
	// held to the edges so that a one-second run still shows a line.
	for _, s := range all {
		if n == 0 {
			break
		}
		pts := []string{fmt.Sprintf("%.1f,%.1f", px(0), py(s.values[0]))}
		for i, v := range s.values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(i)+0.5), py(v)))
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(xmax), py(s.values[n-1])))
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
	}

	// Legend.
	lx := left + pw + 20
	for i, s := range all {
		y := top + 10 + i*20
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, y, lx+24, y, s.color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, y+4, html.EscapeString(s.label))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}
