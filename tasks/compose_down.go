package tasks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/zdplay/zdplay/internal/docker"
)

// ComposeDown removes a compose project's containers and networks, and its
// named and anonymous volumes when volumes = true (their data is lost), like
// `docker compose -p PROJECT down [-v]`. It goes by the project name, so it
// works when the file is gone too; when the file exists it must load.
// Changed is true when the project had containers; Check reports whether it
// would remove any.
//
//	task "compose_down" "stack" {
//	  file    = local.compose
//	  project = var.project
//	  volumes = true   # optional, default false
//	}
type ComposeDown struct {
	File    string `hcl:"file"`
	Project string `hcl:"project"`
	Volumes bool   `hcl:"volumes,optional"`
}

var _ Task = (*ComposeDown)(nil)

func init() { Register("compose_down", func() Task { return &ComposeDown{} }) }

// prepare checks the attributes and the file (when present), connects and
// counts the project's containers.
func (t *ComposeDown) prepare(ctx context.Context, env *Env) (*docker.Client, int, error) {
	const kind = "compose_down"
	if err := composeRequire(kind, "file", t.File, "project", t.Project); err != nil {
		return nil, 0, err
	}
	path := t.File
	staged := composeStaged(env, path)
	_, err := os.Stat(path)
	switch {
	case staged != nil || err == nil:
		if _, err := docker.LoadProjectContent(ctx, path, staged, t.Project); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", kind, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("%s: %w", kind, err)
	}
	c, err := composeDocker(ctx, env, kind)
	if err != nil {
		return nil, 0, err
	}
	n, err := c.ProjectContainers(ctx, t.Project)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", kind, err)
	}
	return c, n, nil
}

// Check reports whether Apply would remove containers.
func (t *ComposeDown) Check(ctx context.Context, env *Env) (Result, error) {
	_, n, err := t.prepare(ctx, env)
	if err != nil {
		return Result{}, err
	}
	if n == 0 {
		return Result{Msg: t.Project + " has no container"}, nil
	}
	return Result{Changed: true, Msg: fmt.Sprintf("would remove %s's %d container(s)%s", t.Project, n, t.volumesNote())}, nil
}

// Apply removes the project.
func (t *ComposeDown) Apply(ctx context.Context, env *Env) (Result, error) {
	c, n, err := t.prepare(ctx, env)
	if err != nil {
		return Result{}, err
	}
	// Down also removes networks and volumes left without container.
	if err := c.Down(composeProgress(ctx, env), t.Project, t.Volumes); err != nil {
		return Result{Changed: n > 0}, fmt.Errorf("compose_down: %w (see `docker ps -a --filter label=com.docker.compose.project=%s`)", err, t.Project)
	}
	if n == 0 {
		return Result{Msg: t.Project + " has no container"}, nil
	}
	return Result{Changed: true, Msg: fmt.Sprintf("removed %s's %d container(s)%s", t.Project, n, t.volumesNote())}, nil
}

func (t *ComposeDown) volumesNote() string {
	if t.Volumes {
		return " and its volumes"
	}
	return ""
}
