package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/zdplay/zdplay/internal/probe"
)

func newProbeCmd() *cobra.Command {
	var (
		o       = probe.Options{Concurrency: 40, KeepAlive: true, Timeout: probe.DefaultTimeout}
		asJSON  bool
		csvFile string
		svgFile string
	)
	cmd := &cobra.Command{
		Use:   "probe URL",
		Short: "Send GET load to a URL and prove that no request failed",
		Long: `Send GET requests to URL from -c clients in a loop, for -d or until Ctrl-C
(SIGINT) or SIGTERM, then print a report: requests, failures, status codes,
transport errors, the versions seen and when, and latency percentiles.

Run it during an upgrade to prove that the upgrade dropped no request. A
request fails on a transport error (refused, reset, timeout...) or a non-2xx
status; redirects are not followed. Requests still in flight when the probe
is stopped are cut short by the probe, not by the server, and are not
counted. The version of a response is the first word of a 2xx body (the
demo app answers "app@0.0.2 from ...").

With --keepalive (the default) each client keeps its own connection open and
reuses it; --keepalive=false opens a new connection for every request.

--csv writes the per-second timeline (second,requests,failed,p99_ms, then
one column per version); --svg draws it as a chart.

Exit status: 0 when every request succeeded, 1 when any failed (or none
completed), 2 for invalid flags.`,
		Example: `  zdplay probe http://127.0.0.1:8000/ -d 30s
  zdplay probe http://127.0.0.1:8000/ -c 40 --svg probe.svg   # until Ctrl-C
  zdplay probe http://127.0.0.1:8000/ --keepalive=false --csv probe.csv
  zdplay probe http://127.0.0.1:8000/ -d 10s --json > probe.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			switch {
			case o.Concurrency < 1:
				return &exitError{exitInvalid, fmt.Errorf("--concurrency %d: need at least 1 client", o.Concurrency)}
			case o.Duration < 0:
				return &exitError{exitInvalid, fmt.Errorf("--duration %v: must not be negative", o.Duration)}
			case o.Timeout <= 0:
				return &exitError{exitInvalid, fmt.Errorf("--timeout %v: must be positive", o.Timeout)}
			}
			if err := o.Validate(); err != nil {
				return &exitError{exitInvalid, err}
			}
			if err := checkPort(o.URL); err != nil {
				return &exitError{exitInvalid, err}
			}
			// The output files are opened now, so that a path that cannot be
			// written fails before the load, not after it.
			var outputs []*output
			for _, spec := range []struct {
				flag, name string
				write      func(*probe.Report, io.Writer) error
			}{
				{"--csv", csvFile, (*probe.Report).WriteCSV},
				{"--svg", svgFile, (*probe.Report).WriteSVG},
			} {
				if spec.name == "" {
					continue
				}
				out, err := openOutput(spec.flag, spec.name, spec.write)
				if err != nil {
					for _, opened := range outputs {
						opened.abandon()
					}
					return &exitError{exitInvalid, err}
				}
				outputs = append(outputs, out)
			}

			parent := cmd.Context()
			if parent == nil {
				parent = context.Background()
			}
			// Stopping the probe is its normal end: the report is printed
			// and the exit status is the verdict's, not 130.
			ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
			defer stop()

			until := "Ctrl-C"
			if o.Duration > 0 {
				until = o.Duration.String() + " or Ctrl-C"
			}
			ka := "on"
			if !o.KeepAlive {
				ka = "off"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "zdplay: probing %s with %d clients (keep-alive %s) until %s\n", o.URL, o.Concurrency, ka, until)

			report, err := probe.Run(ctx, o)
			interrupted := ctx.Err() != nil && parent.Err() == nil
			stop() // a second Ctrl-C now kills the process as usual
			if err != nil {
				for _, out := range outputs {
					out.abandon()
				}
				return &exitError{exitInvalid, err}
			}
			if interrupted && isTerminal(cmd.ErrOrStderr()) {
				fmt.Fprintln(cmd.ErrOrStderr()) // end the "^C" line
			}

			out := cmd.OutOrStdout()
			if asJSON {
				err = report.WriteJSON(out)
			} else {
				err = report.WriteText(out)
			}
			for _, out := range outputs {
				err = errors.Join(err, out.finish(report))
			}
			if err != nil {
				return &exitError{exitFailed, err}
			}
			switch {
			case report.Failed > 0:
				return &exitError{exitFailed, fmt.Errorf("%d of %d requests failed", report.Failed, report.Total)}
			case report.Total == 0:
				return &exitError{exitFailed, errors.New("no request completed")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Concurrency, "concurrency", "c", o.Concurrency, "number of clients sending requests in parallel")
	f.DurationVarP(&o.Duration, "duration", "d", 0, "how long to run, e.g. 30s (0: until Ctrl-C or SIGTERM)")
	f.StringVar(&o.Method, "method", "GET", "the request method (POST: not retried by the client on a closed keep-alive connection)")
	f.StringVar(&o.Body, "body", "", "the request body sent with each request")
	f.BoolVar(&o.KeepAlive, "keepalive", o.KeepAlive, "reuse connections (--keepalive=false: a new connection per request)")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "per-request timeout, reading the body included")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON (timeline included) instead of text")
	f.StringVar(&csvFile, "csv", "", "write the per-second timeline as CSV to `FILE`")
	f.StringVar(&svgFile, "svg", "", "write the per-second timeline as an SVG chart to `FILE`")
	return cmd
}

// checkPort refuses a URL whose port is not 1-65535.
func checkPort(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		return nil // probe.Options.Validate judged the rest
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("probe: port %s in %q is not a port: use 1-65535", u.Port(), raw)
	}
	return nil
}

// output is a --csv or --svg file, opened before the load and written
// with the report after it.
type output struct {
	name    string
	f       *os.File
	created bool
	write   func(*probe.Report, io.Writer) error
}

func openOutput(flag, name string, write func(*probe.Report, io.Writer) error) (*output, error) {
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s %s: cannot write it: %w", flag, name, err)
	}
	return &output{name: name, f: f, created: statErr != nil, write: write}, nil
}

// abandon closes the file, removing it if the probe created it.
func (o *output) abandon() {
	_ = o.f.Close()
	if o.created {
		_ = os.Remove(o.name)
	}
}

// finish writes the report into the file.
func (o *output) finish(r *probe.Report) error {
	err := o.f.Truncate(0)
	if err == nil {
		err = o.write(r, o.f)
	}
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	return nil
}
