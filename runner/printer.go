package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Printer is the one place user output goes: plain lines, a live progress
// line on a terminal, or one JSON document at the end.
type Printer interface {
	Play(name string)
	Role(name string)
	TaskStart(r *TaskResult)
	// Progress is a live step of the task titled title: parallel tasks
	// each report under their own title.
	Progress(title, msg string)
	Note(msg string)
	TaskDone(r *TaskResult, diff bool)
	Recap(r *Recap)
}

type discardPrinter struct{}

func (discardPrinter) Play(string)                {}
func (discardPrinter) Role(string)                {}
func (discardPrinter) TaskStart(*TaskResult)      {}
func (discardPrinter) Progress(string, string)    {}
func (discardPrinter) Note(string)                {}
func (discardPrinter) TaskDone(*TaskResult, bool) {}
func (discardPrinter) Recap(*Recap)               {}

// TextPrinter prints a line per task. On a terminal (Live) it also keeps a
// progress line that each new line overwrites; Color adds ANSI colours.
type TextPrinter struct {
	W     io.Writer
	Color bool
	Live  bool

	mu       sync.Mutex
	current  string
	liveLine bool
}

var _ Printer = (*TextPrinter)(nil)

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
)

func (p *TextPrinter) paint(color, s string) string {
	if !p.Color {
		return s
	}
	return color + s + ansiReset
}

// println prints a whole line, first clearing the live progress line.
func (p *TextPrinter) println(s string) {
	if p.liveLine {
		fmt.Fprint(p.W, "\r\x1b[2K")
		p.liveLine = false
	}
	fmt.Fprintln(p.W, s)
}

func (p *TextPrinter) Play(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.println(p.paint(ansiBold, "PLAY "+name))
}

func (p *TextPrinter) Role(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.println(p.paint(ansiBold, "ROLE "+name))
}

func (p *TextPrinter) TaskStart(r *TaskResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = r.Title()
	if p.Live {
		fmt.Fprint(p.W, "\r\x1b[2K"+p.paint(ansiDim, "  ...      "+p.current))
		p.liveLine = true
	}
}

// Progress shows a task's live step on a terminal; plain output stays quiet
// so that logs hold one line per task.
func (p *TextPrinter) Progress(title, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Live {
		fmt.Fprint(p.W, "\r\x1b[2K"+p.paint(ansiDim, "  ...      "+title+": "+msg))
		p.liveLine = true
	}
}

func (p *TextPrinter) Note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.println(p.paint(ansiYellow, "  note     "+msg))
}

var statusColor = map[string]string{
	StatusOK: ansiGreen, StatusChanged: ansiYellow, StatusSkipped: ansiCyan,
	StatusFailed: ansiRed, StatusIgnored: ansiRed,
}

func (p *TextPrinter) TaskDone(r *TaskResult, diff bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	title := r.Title()
	if r.Handler {
		title = "handler " + title
	}
	line := fmt.Sprintf("  %s %-52s %7s", p.paint(statusColor[r.Status], fmt.Sprintf("%-8s", r.Status)), title, roundDuration(r.Duration))
	if r.Msg != "" {
		line += "  " + r.Msg
	}
	p.println(line)
	if r.Error != "" {
		for _, l := range strings.Split(strings.TrimRight(r.Error, "\n"), "\n") {
			p.println(p.paint(ansiRed, "           "+l))
		}
	}
	if diff && r.Diff != "" {
		for _, l := range strings.Split(strings.TrimRight(r.Diff, "\n"), "\n") {
			p.println(p.paint(diffColor(l), "    "+l))
		}
	}
}

func diffColor(line string) string {
	switch {
	case strings.HasPrefix(line, "+"):
		return ansiGreen
	case strings.HasPrefix(line, "-"):
		return ansiRed
	}
	return ""
}

func (p *TextPrinter) Recap(r *Recap) {
	p.mu.Lock()
	defer p.mu.Unlock()
	label := "RECAP"
	if r.Check {
		label = "RECAP (check mode: nothing was changed)"
	}
	p.println(p.paint(ansiBold, label))
	color := ansiGreen
	if r.Failed > 0 {
		color = ansiRed
	}
	p.println("  " + p.paint(color, r.Summary()) + "   total " + roundDuration(r.Elapsed))
}

// JSONPrinter prints nothing until the end, then the whole recap as one
// JSON document, for scripts and CI: every other event it discards.
type JSONPrinter struct {
	discardPrinter
	W io.Writer
}

var _ Printer = JSONPrinter{}

func (p JSONPrinter) Recap(r *Recap) {
	if r.Tasks == nil {
		r.Tasks = []*TaskResult{}
	}
	enc := json.NewEncoder(p.W)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}
