// Package docker is zdplay's glue to the Docker engine and the Docker Compose
// SDK (github.com/docker/compose/v5): one connection per run (Connect), loading
// a compose file (LoadProject), and the few operations the task kinds need:
// is a service outdated, bring services up, recreate one service without
// touching its dependencies, exec in a service's container, find a service's
// container, which images are missing, and a container's process list.
//
// zdplay prints its own progress, so the SDK's own output is silenced: its
// streams are discarded, its log level is "error", and its progress events go
// to an optional callback (WithProgress) instead of a terminal UI.
//
// The engine may be older than the libraries (here 20.10, API 1.41): the API
// version is always negotiated, by a bounded ping in Connect.
//
// Every method takes the caller's ctx and passes it to every Docker call.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
)

// PingTimeout bounds the ping that Connect makes, so that a run against an
// unreachable daemon fails in seconds, not at the first task's deadline.
const PingTimeout = 3 * time.Second

// Client is one connection to the Docker engine: the moby API client (API
// version negotiated) and the Compose service built on the same client.
// It is safe for concurrent use; the operations that change containers
// (Up, Recreate, Down) are serialized.
type Client struct {
	api     client.APIClient
	compose api.Compose
	host    string
	version string // negotiated API version

	// mu serializes Compose operations: the event sink below is per call.
	mu     sync.Mutex
	events *eventSink
}

// Connect resolves the Docker endpoint the way the docker CLI does (DOCKER_HOST,
// DOCKER_CONTEXT, the current docker context, DOCKER_TLS_VERIFY...), pings the
// daemon within PingTimeout (negotiating the API version) and builds the
// Compose service on that client. The error says what to do when the daemon
// cannot be reached.
func Connect(ctx context.Context) (*Client, error) {
	// The docker CLI's own defaults for its global flags, as if none were
	// given: this is where DOCKER_TLS_VERIFY and DOCKER_CERT_PATH are read.
	opts := flags.NewClientOptions()
	fs := pflag.NewFlagSet("zdplay-docker", pflag.ContinueOnError)
	opts.InstallFlags(fs)
	if err := fs.Parse(nil); err != nil {
		return nil, fmt.Errorf("docker client options: %w", err)
	}
	opts.SetDefaultOptions(fs)
	// The SDK logs through logrus' global logger; keep only errors
	// (Initialize applies this level).
	opts.LogLevel = "error"
	quietSDK()

	// The SDK's streams: Compose writes nothing zdplay wants to show.
	// (No WithBaseContext(ctx): the CLI keeps its base context for the
	// connection's lifetime, while ctx is only the first caller's.)
	dockerCli, err := command.NewDockerCli(
		command.WithOutputStream(io.Discard),
		command.WithErrorStream(io.Discard),
		command.WithInputStream(io.NopCloser(strings.NewReader(""))),
	)
	if err != nil {
		return nil, fmt.Errorf("docker CLI setup: %w", err)
	}
	var apiClient client.APIClient
	err = dockerCli.Initialize(opts, command.WithInitializeClient(func(c *command.DockerCli) (client.APIClient, error) {
		var err error
		apiClient, err = command.NewAPIClientFromFlags(opts, c.ConfigFile())
		return apiClient, err
	}))
	if err != nil {
		return nil, fmt.Errorf("docker client setup (check DOCKER_HOST / DOCKER_CONTEXT, currently %s): %w", hostHint(), err)
	}
	host := apiClient.DaemonHost()

	pingCtx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	_, err = apiClient.Ping(pingCtx, client.PingOptions{NegotiateAPIVersion: true, ForceNegotiate: true})
	if err != nil {
		_ = apiClient.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("the Docker engine at %s did not answer within %s: %w\n"+
			"  is dockerd running? start it (systemctl start docker, or dockerd &) or point DOCKER_HOST at it (DOCKER_HOST=%s)",
			host, PingTimeout, err, hostHint())
	}

	// The CLI's own lazy initialization (endpoint, server info: one more
	// ping) now, while the daemon is known to answer, rather than inside the
	// first Compose call. CurrentVersion does it without ever exiting.
	_ = dockerCli.CurrentVersion()

	c := &Client{api: apiClient, host: host, version: apiClient.ClientVersion(), events: &eventSink{}}
	svc, err := compose.NewComposeService(dockerCli,
		compose.WithEventProcessor(c.events),
		// Never destroy data on a question (a diverged named volume): answer no.
		compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
		compose.WithStreams(io.Discard, io.Discard, strings.NewReader("")),
	)
	if err != nil {
		_ = apiClient.Close()
		return nil, fmt.Errorf("docker compose setup: %w", err)
	}
	c.compose = svc
	return c, nil
}

// quietSDK keeps the SDK's logrus warnings ("Found orphan containers", a
// compose-go interpolation warning...) out of zdplay's output: zdplay reports
// what matters itself. Errors still print.
var quietSDK = sync.OnceFunc(func() { logrus.SetLevel(logrus.ErrorLevel) })

// hostHint is what DOCKER_HOST says, for error messages.
func hostHint() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unset, so " + client.DefaultDockerHost
}

// Close releases the connection.
func (c *Client) Close() error {
	if c == nil || c.api == nil {
		return nil
	}
	return c.api.Close()
}

// API returns the moby API client, for what this package does not wrap.
func (c *Client) API() client.APIClient { return c.api }

// Host is the daemon address ("unix:///var/run/docker.sock").
func (c *Client) Host() string { return c.host }

// APIVersion is the negotiated Engine API version ("1.41").
func (c *Client) APIVersion() string { return c.version }

type progressKey struct{}

// WithProgress returns a ctx under which this package's Compose operations
// (Up, Recreate, Down) report their steps ("Container p-app_1-1 Recreated")
// to fn. Without it they report nothing.
func WithProgress(ctx context.Context, fn func(format string, args ...any)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

func progressFrom(ctx context.Context) func(format string, args ...any) {
	fn, _ := ctx.Value(progressKey{}).(func(format string, args ...any))
	return fn
}

// eventSink receives the Compose SDK's progress events instead of its
// terminal UI: it records the finished steps of the current operation and
// forwards them to the progress callback.
type eventSink struct {
	mu       sync.Mutex
	progress func(format string, args ...any)
	done     []string // "Container p-app_1-1 Recreated", in order
}

func (e *eventSink) Start(context.Context, string) {}
func (e *eventSink) Done(string, bool)             {}

func (e *eventSink) On(events ...api.Resource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range events {
		if ev.Status != api.Done && ev.Status != api.Error {
			continue
		}
		line := ev.ID + " " + ev.Text
		if ev.Details != "" {
			line += ": " + ev.Details
		}
		if n := len(e.done); n > 0 && e.done[n-1] == line {
			continue // Compose reports some steps twice
		}
		e.done = append(e.done, line)
		if e.progress != nil {
			e.progress("%s", line)
		}
	}
}

// begin starts recording the steps of one operation, reported to progress.
func (e *eventSink) begin(progress func(format string, args ...any)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = nil
	e.progress = progress
}

// end returns the steps recorded since begin and stops reporting.
func (e *eventSink) end() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.done
	e.done = nil
	e.progress = nil
	return d
}

// ErrNoContainer is returned (wrapped) when a service has no container.
var ErrNoContainer = errors.New("no container")
