package docker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Exec runs cmd in the running container of a service of a project through
// the Engine API (like `docker compose exec -T SERVICE cmd...`) and returns
// its exit code and its output, stdout and stderr apart. err is for failing
// to run it at all (no running container, no such executable...), not for a
// non-zero rc. Cancelling ctx stops waiting (the process may go on in the
// container).
func (c *Client) Exec(ctx context.Context, projectName, service string, cmd []string) (rc int, stdout, stderr string, err error) {
	if len(cmd) == 0 {
		return -1, "", "", fmt.Errorf("exec in %s: empty command", service)
	}
	ctr, err := c.ContainerOf(ctx, projectName, service)
	if err != nil {
		return -1, "", "", err
	}
	if !ctr.Running {
		return -1, "", "", fmt.Errorf("exec %q in %s: its container %s is %s (exit code %d), not running: bring it up first",
			strings.Join(cmd, " "), service, ctr.ShortID(), ctr.State, ctr.ExitCode)
	}
	return c.ExecIn(ctx, ctr.ID, cmd)
}

// ExecIn is Exec in a container given by ID.
func (c *Client) ExecIn(ctx context.Context, containerID string, cmd []string) (rc int, stdout, stderr string, err error) {
	created, err := c.api.ExecCreate(ctx, containerID, client.ExecCreateOptions{
		AttachStdout: true,
		AttachStderr: true,
		Cmd:          cmd,
	})
	if err != nil {
		return -1, "", "", fmt.Errorf("exec %q in container %s: %w", strings.Join(cmd, " "), shortID(containerID), err)
	}
	att, err := c.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, "", "", fmt.Errorf("exec %q in container %s: %w", strings.Join(cmd, " "), shortID(containerID), err)
	}
	defer att.Close()
	// StdCopy blocks on the connection: closing it is how ctx interrupts.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, att.Reader); err != nil {
		if ctx.Err() != nil {
			return -1, out.String(), errb.String(), ctx.Err()
		}
		return -1, out.String(), errb.String(), fmt.Errorf("exec %q in container %s: reading output: %w", strings.Join(cmd, " "), shortID(containerID), err)
	}
	ins, err := c.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return -1, out.String(), errb.String(), fmt.Errorf("exec %q in container %s: %w", strings.Join(cmd, " "), shortID(containerID), err)
	}
	if ins.Running {
		// The stream ended but the engine has not recorded the exit yet.
		return -1, out.String(), errb.String(), fmt.Errorf("exec %q in container %s: output closed while still running", strings.Join(cmd, " "), shortID(containerID))
	}
	return ins.ExitCode, out.String(), errb.String(), nil
}

// Process is one row of a container's process list.
type Process struct {
	PID  string
	PPID string
	Cmd  string // the command line ("nginx: worker process")
}

// Top lists a container's processes (the engine's ContainerTop, ps -ef).
func (c *Client) Top(ctx context.Context, containerID string) ([]Process, error) {
	res, err := c.api.ContainerTop(ctx, containerID, client.ContainerTopOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing processes of container %s: %w", shortID(containerID), err)
	}
	return parseTop(res.Titles, res.Processes), nil
}

// parseTop maps ps rows to Processes by their titles (PID, PPID, CMD or
// COMMAND).
func parseTop(titles []string, rows [][]string) []Process {
	col := map[string]int{}
	for i, t := range titles {
		col[strings.ToUpper(t)] = i
	}
	get := func(row []string, names ...string) string {
		for _, n := range names {
			if i, ok := col[n]; ok && i < len(row) {
				return row[i]
			}
		}
		return ""
	}
	out := make([]Process, 0, len(rows))
	for _, r := range rows {
		out = append(out, Process{PID: get(r, "PID"), PPID: get(r, "PPID"), Cmd: get(r, "CMD", "COMMAND")})
	}
	return out
}

// LogTail returns the last n lines a container wrote (stdout and stderr
// interleaved as far as the engine keeps them apart), for error messages.
func (c *Client) LogTail(ctx context.Context, containerID string, n int) (string, error) {
	rc, err := c.api.ContainerLogs(ctx, containerID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n),
	})
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", shortID(containerID), err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	// Without a TTY the stream is multiplexed; both go to one buffer.
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.String(), fmt.Errorf("logs of container %s: %w", shortID(containerID), err)
	}
	return strings.TrimRight(buf.String(), "\n"), nil
}
